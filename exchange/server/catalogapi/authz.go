package catalogapi

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// Who may do what (IDENTITY.md): any authenticated principal reads the
// catalog; a steward listed for an agency in agencies.yaml files requests
// for it and decides those of its datasets; auditors and operators read
// every request. A server without authentication (--insecure) serves
// reads to anyone but no steward action: a request and a decision need a
// named steward.

// steward is the request's principal when it is a steward listed for its
// agency; otherwise the refusal.
func (h *Handler) steward(r *http.Request, action string) (*auth.Principal, *auth.Error) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		return nil, auth.Forbidden("credentials", action+" needs an authenticated steward; this server runs without authentication")
	}
	if p.Kind != auth.KindSteward || !p.HasRole(auth.RoleSteward) {
		return nil, auth.Forbidden("role", fmt.Sprintf("%s needs role steward; %s is not a steward", action, p))
	}
	if !h.listed(p.Agency, p.Subject) {
		return nil, auth.Forbidden("role", fmt.Sprintf("%s: %s is not among the stewards of agency %s in agencies.yaml", action, p.Subject, p.Agency))
	}
	return p, nil
}

// listed reports whether steward is among agency's stewards.
func (h *Handler) listed(agency, steward string) bool {
	for _, a := range h.cfg.Agencies() {
		if a.ID == agency {
			return slices.Contains(a.Stewards, steward)
		}
	}
	return false
}

// readScope is the agency whose requests the caller may read ("" for
// all: auditors, operators, and a server without authentication).
func (h *Handler) readScope(r *http.Request) (string, *auth.Error) {
	p, ok := auth.FromContext(r.Context())
	switch {
	case !ok, p.HasRole(auth.RoleAuditor), p.HasRole(auth.RoleOperator):
		return "", nil
	case p.Kind == auth.KindSteward && h.listed(p.Agency, p.Subject):
		return p.Agency, nil
	}
	return "", auth.Forbidden("role", fmt.Sprintf("access requests are read by the stewards of their agencies, auditors and operators; %s is none of them", p))
}
