package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// TestDevCatalogWithDevTokens: the stewards' tokens exchange dev writes
// drive an access request end to end: anonymous calls are 401, the tax
// steward files, a statistics steward may not decide (403), the civil
// registry's steward accepts, and a second decision is 409.
func TestDevCatalogWithDevTokens(t *testing.T) {
	d := startDevHTTP(t)
	tok := func(steward string) string { return tokenOf(t, devissuer.StewardToken(d.creds, steward)) }
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/catalog"}, {"POST", "/api/v1/catalog/civil-registry.births/requests"}} {
		if code, body := d.do(t, c.method, c.path, "", ""); code != 401 {
			t.Errorf("anonymous %s %s: %d %s, want 401", c.method, c.path, code, body)
		}
	}
	if code, body := d.do(t, "GET", "/api/v1/catalog", "", tokenOf(t, filepath.Join(d.creds, devissuer.AuditorFile))); code != 200 || !strings.Contains(body, `"classification":"sensitive"`) {
		t.Errorf("catalog as the auditor: %d %s", code, body)
	}
	code, body := d.do(t, "POST", "/api/v1/catalog/civil-registry.births/requests",
		`{"purpose": "child tax credit", "legal_basis": "Income Tax Act 2009, s.58A", "fields": ["child_id", "birth_date"]}`, tok("helena.marsh"))
	var req store.AccessRequest
	if code != 201 || json.Unmarshal([]byte(body), &req) != nil {
		t.Fatalf("filing with helena.marsh's token: %d %s", code, body)
	}
	decision := fmt.Sprintf("/api/v1/catalog/requests/%d/decision", req.ID)
	if code, body := d.do(t, "POST", decision, `{"accept": true}`, tok("wei.zhang")); code != 403 {
		t.Errorf("deciding with wei.zhang's token: %d %s, want 403", code, body)
	}
	if code, body := d.do(t, "POST", decision, `{"accept": true}`, tok("marco.bianchi")); code != 200 || !strings.Contains(body, `"agreement":"civil-registry-to-tax-`) {
		t.Errorf("accepting with marco.bianchi's token: %d %s", code, body)
	}
	if code, body := d.do(t, "POST", decision, `{"accept": false}`, tok("marco.bianchi")); code != 409 {
		t.Errorf("deciding twice: %d %s, want 409", code, body)
	}
}
