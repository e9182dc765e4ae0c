package app

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

var (
	jonasSteward  = devissuer.Claims{Subject: "jonas.lindqvist", Agency: "health", Roles: []string{auth.RoleSteward}}
	statsSteward  = devissuer.Claims{Subject: "wei.zhang", Agency: "statistics", Roles: []string{auth.RoleSteward}}
	taxSteward    = devissuer.Claims{Subject: "helena.marsh", Agency: "tax", Roles: []string{auth.RoleSteward}}
	statsHS       = "health-to-statistics-2026-002"
	statsHSFile   = "agreement-health-to-statistics-2026-002.yaml"
	agreementsURL = "/api/v1/agreements"
)

// agreementAs is who's view of agreement id through GET.
func agreementAs(t *testing.T, who devissuer.Claims, base, id string) stewardship.View {
	t.Helper()
	code, body := do(t, who, http.MethodGet, base+agreementsURL+"/"+id, "")
	var v stewardship.View
	if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("GET %s as %s: %d %s", id, who.Subject, code, body)
	}
	return v
}

// post sends a JSON body as who and returns the status and body.
func post(t *testing.T, who devissuer.Claims, base, path, body string) (int, string) {
	t.Helper()
	return do(t, who, http.MethodPost, base+path, body)
}

// TestAgreementsAPIServeMode runs the steward workflow through the HTTP API
// of an exchange on the embedded broker without seeding (serve mode):
// files' status and approvals are not proof; one steward twice or two
// stewards of one agency do not approve; a third agency is refused (403),
// anonymous callers 401; provider and consumer stewards on the same hash
// activate it; a revocation holds across an old file put back, a restart
// with seeding and a POST to active; every transition is in
// agreement_transitions with its principal and reached both parties'
// notices topics.
func TestAgreementsAPIServeMode(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testAgreementsAPI(t, func(*Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
		testAgreementsAPI(t, func(c *Config) { c.DatabaseURL = url })
	})
}

func testAgreementsAPI(t *testing.T, db func(*Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, data := copyExamples(t), t.TempDir()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	a, base, stop := startInstance(ctx, t, b.Addr(), data, dir, db)

	for _, path := range []string{agreementsURL, agreementsURL + "/" + statsHS + "/approve"} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous POST %s: %d, want 401", path, resp.StatusCode)
		}
	}
	// The example file says active with two approvals: recorded as proposed.
	v := agreementAs(t, statsSteward, base, statsHS)
	if v.Status != "proposed" || len(v.Approvals) != 0 {
		t.Fatalf("a file's self-declared status and approvals were trusted: %+v", v)
	}
	approve := func(who devissuer.Claims, hash string) (int, string) {
		return post(t, who, base, agreementsURL+"/"+statsHS+"/approve", `{"content_hash":"`+hash+`"}`)
	}
	transition := func(who devissuer.Claims, to, reason string) (int, string) {
		return post(t, who, base, agreementsURL+"/"+statsHS+"/transitions", `{"to":"`+to+`","reason":"`+reason+`"}`)
	}
	expect := func(what string, code int, body string, want int) {
		t.Helper()
		if code != want {
			t.Fatalf("%s: %d %s, want %d", what, code, body, want)
		}
	}
	code, body := approve(healthSteward, v.ContentHash)
	expect("amara approves", code, body, http.StatusOK)
	code, body = approve(healthSteward, v.ContentHash)
	expect("amara approves again", code, body, http.StatusConflict)
	code, body = approve(jonasSteward, v.ContentHash)
	expect("jonas (health too) approves", code, body, http.StatusOK)
	if got := agreementAs(t, auditor, base, statsHS); got.Status != "proposed" {
		t.Fatalf("two health stewards approved it: %+v", got)
	}
	code, body = approve(taxSteward, v.ContentHash)
	expect("tax steward approves", code, body, http.StatusForbidden)
	code, body = transition(taxSteward, "suspended", "x")
	expect("tax steward suspends", code, body, http.StatusForbidden)
	code, body = do(t, taxSteward, http.MethodGet, base+agreementsURL+"/"+statsHS, "")
	expect("tax steward reads", code, body, http.StatusForbidden)
	code, body = approve(statsSteward, v.ContentHash)
	expect("wei approves", code, body, http.StatusOK)
	if got := agreementAs(t, auditor, base, statsHS); got.Status != "active" {
		t.Fatalf("provider + consumer approvals: %+v, want active", got)
	}
	code, body = transition(taxSteward, "revoked", "x")
	expect("tax steward revokes", code, body, http.StatusForbidden)
	code, body = transition(statsSteward, "revoked", "purpose fulfilled")
	expect("wei revokes", code, body, http.StatusOK)
	code, body = transition(healthSteward, "active", "")
	expect("revoked → active", code, body, http.StatusConflict)

	// The old file with other terms, then back; a restart with seeding.
	path := filepath.Join(dir, statsHSFile)
	var old []byte
	old, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(old), "purpose: >", "purpose: >\n  Changed.", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	stop()
	_, base, _ = startInstance(ctx, t, b.Addr(), data, dir, db, func(c *Config) { c.SeedFromFiles = true })
	code, body = transition(healthSteward, "active", "")
	expect("revoked → active after a restart", code, body, http.StatusConflict)
	v = agreementAs(t, auditor, base, statsHS)
	if v.Status != "revoked" {
		t.Fatalf("after the old file and a restart: %+v, want revoked", v)
	}
	wantBy := []string{"file:" + statsHSFile, "wei.zhang@statistics", "wei.zhang@statistics", "wei.zhang@statistics"}
	if len(v.History) != len(wantBy) {
		t.Fatalf("history %+v", v.History)
	}
	for i, h := range v.History {
		if h.By != wantBy[i] || h.ContentHash != v.ContentHash {
			t.Errorf("transition %d = %+v, want by %s on %s", i, h, wantBy[i], v.ContentHash)
		}
	}
	for _, agency := range []string{"health", "statistics"} {
		ns, _ := readNotices(ctx, t, b.Addr(), agency)
		var got []string
		for _, n := range ns {
			if n.Kind == sla.KindAgreementTransition && n.Agreement == statsHS {
				got = append(got, n.Reason)
			}
		}
		if strings.Join(got, ",") != "proposed,approved,active,revoked" {
			t.Errorf("notices.%s told %v, want proposed, approved, active, revoked", agency, got)
		}
	}
}

// TestAgreementsAPIDevModeSeeds: with seeding (exchange dev), a new id
// takes its file's status and approvals once, recorded as seeded from
// file; a revocation through the API then holds across a restart that
// seeds again.
func TestAgreementsAPIDevModeSeeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir, data := copyExamples(t), t.TempDir()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	seed := func(c *Config) { c.SeedFromFiles = true }
	_, base, stop := startInstance(ctx, t, b.Addr(), data, dir, seed)
	v := agreementAs(t, jonasSteward, base, statsHS)
	if v.Status != "active" || len(v.Approvals) != 2 || len(v.History) != 1 || v.History[0].Reason != "seeded from file" || v.History[0].By != "file:"+statsHSFile {
		t.Fatalf("seeded agreement: %+v", v)
	}
	if code, body := post(t, jonasSteward, base, agreementsURL+"/"+statsHS+"/transitions", `{"to":"revoked","reason":"superseded"}`); code != http.StatusOK {
		t.Fatalf("revoke: %d %s", code, body)
	}
	stop()
	_, base, _ = startInstance(ctx, t, b.Addr(), data, dir, seed)
	if v := agreementAs(t, auditor, base, statsHS); v.Status != "revoked" || v.History[len(v.History)-1].By != "jonas.lindqvist@health" {
		t.Fatalf("after a restart that seeds: %+v", v)
	}
}
