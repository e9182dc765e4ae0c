package devissuer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// TestWriteTokens: a token per agency, steward, the auditor and the
// operator, private, verifying as what it names; kept across restarts;
// written anew when the issuer URL changes; a removed steward's token
// removed.
func TestWriteTokens(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	creds := filepath.Join(data, CredentialsDir)
	agencies := []agreements.Agency{{ID: "health", Stewards: []string{"amara.okafor", "jonas.lindqvist"}}, {ID: "tax", Stewards: []string{"helena.marsh"}}}
	iss, err := Load(data, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	written, err := iss.WriteTokens(ctx, creds, agencies, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"agencies/health.token", "agencies/tax.token", "auditor.token", "operator.token",
		"stewards/amara.okafor.token", "stewards/helena.marsh.token", "stewards/jonas.lindqvist.token"}
	if !slices.Equal(written, want) {
		t.Fatalf("written %v, want %v", written, want)
	}
	v, _ := iss.OIDC(ctx)
	for name, kind := range map[string]auth.Kind{"agencies/health.token": auth.KindAgency, "stewards/amara.okafor.token": auth.KindSteward,
		"auditor.token": auth.KindAuditor, "operator.token": auth.KindOperator} {
		p := filepath.Join(creds, name)
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want mode 0600", name, st.Mode(), err)
		}
		raw, _ := os.ReadFile(p)
		pr, err := v.Verify(ctx, strings.TrimSpace(string(raw)))
		if err != nil || pr.Kind != kind {
			t.Fatalf("%s: %+v %v, want a %s", name, pr, err, kind)
		}
		if kind == auth.KindSteward && (pr.Subject != "amara.okafor" || pr.Agency != "health" || !pr.HasRole(auth.RoleSteward)) {
			t.Fatalf("steward token: %+v", pr)
		}
	}
	for _, d := range []string{creds, filepath.Join(creds, AgenciesDir), filepath.Join(creds, StewardsDir)} {
		if st, _ := os.Stat(d); st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: mode %v, want 0700", d, st.Mode())
		}
	}
	before, _ := os.ReadFile(AgencyToken(creds, "health"))

	// A restart: same key, same URL, same agencies: nothing written.
	iss2, _ := Load(data, "http://127.0.0.1:8080")
	if written, err := iss2.WriteTokens(ctx, creds, agencies, now.Add(time.Hour)); err != nil || len(written) != 0 {
		t.Fatalf("restart: written %v %v, want none", written, err)
	}
	if after, _ := os.ReadFile(AgencyToken(creds, "health")); string(after) != string(before) {
		t.Fatal("a restart changed a token")
	}
	// Another URL (iss): every token anew; a steward gone: its token too.
	agencies[0].Stewards = agencies[0].Stewards[:1]
	iss3, _ := Load(data, "http://127.0.0.1:9999")
	if written, err := iss3.WriteTokens(ctx, creds, agencies, now); err != nil || len(written) != 6 {
		t.Fatalf("new URL: written %v %v, want all 6", written, err)
	}
	if _, err := os.Stat(StewardToken(creds, "jonas.lindqvist")); !os.IsNotExist(err) {
		t.Fatalf("a removed steward's token is still there: %v", err)
	}
	// A month before expiry a token is renewed.
	if written, _ := iss3.WriteTokens(ctx, creds, agencies, now.Add(Lifetime-renewBefore+time.Hour)); len(written) != 6 {
		t.Fatalf("near expiry: written %v, want all 6", written)
	}
}
