package auth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// TestPublisherOf: only an agency system with role publisher of the
// owner passes; anyone else gets a 403 naming the missing right.
func TestPublisherOf(t *testing.T) {
	pub := func(agency string, roles ...string) *auth.Principal {
		p, err := auth.NewPrincipal(auth.MethodOIDC, agency, agency, roles)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	steward, err := auth.NewPrincipal(auth.MethodOIDC, "amara", "health", []string{auth.RoleSteward, auth.RolePublisher})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		p       *auth.Principal
		missing string // "" allowed
	}{
		{"publisher of the owner", pub("health", auth.RolePublisher), ""},
		{"publisher and consumer of the owner", pub("health", auth.RolePublisher, auth.RoleConsumer), ""},
		{"publisher of another agency", pub("tax", auth.RolePublisher), "agency"},
		{"consumer of the owner", pub("health", auth.RoleConsumer), "role"},
		{"steward of the owner", steward, "role"},
		{"operator", pub("", auth.RoleOperator), "role"},
		{"nobody", nil, "role"},
	} {
		err := auth.PublisherOf(c.p, "health", "posting records of health.visits")
		switch {
		case c.missing == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.missing != "" && (err == nil || err.Status != http.StatusForbidden || err.Missing != c.missing ||
			!strings.HasPrefix(err.Message, "posting records of health.visits needs")):
			t.Errorf("%s: %+v; want 403 missing %s", c.name, err, c.missing)
		}
	}
}
