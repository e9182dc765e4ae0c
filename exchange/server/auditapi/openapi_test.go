package auditapi_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/auditapi/openapicheck"
	"github.com/exchange-gov/exchange/policy"
)

// openAPI fetches the document through the handler.
func openAPI(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	code, doc := get(t, h, "/api/v1/openapi.json")
	if code != http.StatusOK || doc["openapi"] != "3.1.0" {
		t.Fatalf("GET /api/v1/openapi.json: %d, openapi %v", code, doc["openapi"])
	}
	return doc
}

// conform reports where v departs from schema (openapicheck.Conform).
func conform(doc map[string]any, schema map[string]any, v any, at string) []string {
	return openapicheck.Conform(doc, schema, v, at)
}

// responseSchema is the schema of a path's GET response with code.
func responseSchema(t *testing.T, doc map[string]any, path, code string) map[string]any {
	t.Helper()
	s, err := openapicheck.ResponseSchema(doc, "get", path, code)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenAPIMatchesResponses: what the handlers answer — pages of every
// kind of entry, lineage with purpose and legal basis, errors — conforms
// to the document served at /api/v1/openapi.json.
func TestOpenAPIMatchesResponses(t *testing.T) {
	h := setup(t)
	doc := openAPI(t, h)
	check := func(path, code, target string) map[string]any {
		t.Helper()
		got, body := get(t, h, target)
		if fmt.Sprint(got) != code {
			t.Fatalf("GET %s: %d, want %s: %v", target, got, code, body)
		}
		for _, b := range conform(doc, responseSchema(t, doc, path, code), body, "$") {
			t.Errorf("GET %s: %s", target, b)
		}
		return body
	}
	page := check("/api/v1/audit", "200", "/api/v1/audit?limit=7")
	if page["next"] == nil || len(page["entries"].([]any)) != 7 {
		t.Fatalf("first page: %v", page)
	}
	check("/api/v1/audit", "200", "/api/v1/audit?sort=-decision_time&limit=1000")
	check("/api/v1/audit", "400", "/api/v1/audit?limit=0")
	id := ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 0, 3)
	l := check("/api/v1/lineage", "200", "/api/v1/lineage?delivery_id="+id)
	if ds := l["deliveries"].([]any); len(ds) != 2 || !strings.Contains(fmt.Sprint(ds), "Social Services Act") {
		t.Fatalf("lineage deliveries without legal basis: %v", ds)
	}
	check("/api/v1/lineage", "200", "/api/v1/lineage?topic=ingress.health.immunisations&partition=0&offset=2")
	check("/api/v1/lineage", "404", "/api/v1/lineage?topic=ingress.health.immunisations&partition=0&offset=999")
	check("/api/v1/lineage", "400", "/api/v1/lineage?topic=x")

	sla := check("/api/v1/sla", "200", "/api/v1/sla?dataset=health.immunisations")
	if len(sla["days"].([]any)) != 3 {
		t.Fatalf("sla: %v", sla)
	}
	check("/api/v1/sla", "400", "/api/v1/sla?from=yesterday")
	if ev := check("/api/v1/sla/events", "200", "/api/v1/sla/events"); len(ev["events"].([]any)) != 2 {
		t.Fatalf("events: %v", ev)
	}
	check("/api/v1/sla/events", "400", "/api/v1/sla/events?to=noon")
	if ns := check("/api/v1/notices", "200", "/api/v1/notices?agency=health&limit=1"); ns["next"] == nil {
		t.Fatalf("notices: %v", ns)
	}
	check("/api/v1/notices", "400", "/api/v1/notices")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/v1/openapi.json: %d, want 405", rec.Code)
	}
}

// TestOpenAPISkipReasons: the document names every skip reason the policy
// engine can record.
func TestOpenAPISkipReasons(t *testing.T) {
	doc := openAPI(t, setup(t))
	b, _ := json.Marshal(doc["components"].(map[string]any)["schemas"].(map[string]any)["Skip"])
	for _, r := range []string{policy.SkipFilter, policy.SkipNotYetValid, policy.SkipExpired, policy.SkipSuspended,
		policy.SkipRevoked, policy.SkipNotActive, policy.SkipStale, policy.SkipEncode, policy.SkipNotApproved, policy.SkipNotRecorded} {
		if !strings.Contains(string(b), r) {
			t.Errorf("skip reason %q not documented", r)
		}
	}
}

// TestDeliveryKeysConform: GET /api/v1/delivery-keys answers the key set
// the document describes, and a consumer reads the signer's key from it.
func TestDeliveryKeysConform(t *testing.T) {
	doc := openAPI(t, setup(t))
	signer := deliverysig.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	h := auditapi.DeliveryKeys(deliverysig.Publish(signer.PublicKey()))
	code, body := get(t, h, "/api/v1/delivery-keys")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/delivery-keys: %d", code)
	}
	for _, b := range conform(doc, responseSchema(t, doc, "/api/v1/delivery-keys", "200"), body, "$") {
		t.Error(b)
	}
	raw, _ := json.Marshal(body)
	var ks deliverysig.KeySet
	if err := json.Unmarshal(raw, &ks); err != nil {
		t.Fatal(err)
	}
	keys, err := ks.Verification()
	if err != nil || !keys[signer.KeyID()].Equal(signer.PublicKey()) {
		t.Fatalf("keys %v, %v", keys, err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/delivery-keys", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
}
