package catalogapi_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/auditapi/openapicheck"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// TestOpenAPIMatchesAnswers: every answer of the catalog — success and
// error, of every operation — conforms to the document served at
// /api/v1/openapi.json, and every catalog operation there is exercised.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	rec := httptest.NewRecorder()
	auditapi.New(nil).OpenAPI().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	doc, err := openapicheck.Document(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	req := w.file(t, statistics, "health.immunisations", "age")
	one := fmt.Sprintf("/api/v1/catalog/requests/%d", req.ID)
	exercised := map[string]bool{}
	for _, c := range []struct {
		p                  *auth.Principal
		method, path, body string
		template, code     string
	}{
		{statistics, "GET", "/api/v1/catalog", "", "/api/v1/catalog", "200"},
		{statistics, "GET", "/api/v1/catalog/health.immunisations", "", "/api/v1/catalog/{dataset}", "200"},
		{statistics, "GET", "/api/v1/catalog/no.such", "", "/api/v1/catalog/{dataset}", "404"},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", `{"purpose": "p", "legal_basis": "l", "fields": ["age"], "reason": "r"}`, "/api/v1/catalog/{dataset}/requests", "201"},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", `{"purpose": "", "legal_basis": "l", "fields": ["x"]}`, "/api/v1/catalog/{dataset}/requests", "400"},
		{statistics, "POST", "/api/v1/catalog/no.such/requests", `{}`, "/api/v1/catalog/{dataset}/requests", "404"},
		{steward("x.y", "statistics"), "POST", "/api/v1/catalog/health.immunisations/requests", `{}`, "/api/v1/catalog/{dataset}/requests", "403"},
		{health, "GET", "/api/v1/catalog/requests", "", "/api/v1/catalog/requests", "200"},
		{health, "GET", one, "", "/api/v1/catalog/requests/{id}", "200"},
		{health, "GET", "/api/v1/catalog/requests/x", "", "/api/v1/catalog/requests/{id}", "400"},
		{health, "GET", "/api/v1/catalog/requests/99", "", "/api/v1/catalog/requests/{id}", "404"},
		{steward("priya.raman", "social-services"), "GET", one, "", "/api/v1/catalog/requests/{id}", "403"},
		{health, "POST", one + "/decision", `{}`, "/api/v1/catalog/requests/{id}/decision", "400"},
		{statistics, "POST", one + "/decision", `{"accept": true}`, "/api/v1/catalog/requests/{id}/decision", "403"},
		{health, "POST", one + "/decision", `{"accept": true, "reason": "r"}`, "/api/v1/catalog/requests/{id}/decision", "200"},
		{health, "POST", one + "/decision", `{"accept": true}`, "/api/v1/catalog/requests/{id}/decision", "409"},
		{health, "POST", "/api/v1/catalog/requests/99/decision", `{"accept": true}`, "/api/v1/catalog/requests/{id}/decision", "404"},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		w.mux.ServeHTTP(rec, r.WithContext(auth.NewContext(r.Context(), c.p)))
		if fmt.Sprint(rec.Code) != c.code {
			t.Errorf("%s %s: %d %s, want %s", c.method, c.path, rec.Code, rec.Body, c.code)
			continue
		}
		var body any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: not a JSON answer: %q", c.method, c.path, rec.Body)
			continue
		}
		schema, err := openapicheck.ResponseSchema(doc, strings.ToLower(c.method), c.template, c.code)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, b := range openapicheck.Conform(doc, schema, body, "$") {
			t.Errorf("%s %s %s: %s", c.method, c.path, c.code, b)
		}
		exercised[strings.ToLower(c.method)+" "+c.template] = true
	}
	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, "/api/v1/catalog") {
			continue
		}
		for method := range item.(map[string]any) {
			if !exercised[method+" "+path] {
				t.Errorf("%s %s: documented, not exercised", method, path)
			}
		}
	}
	if len(exercised) != 6 {
		t.Errorf("%d catalog operations exercised, want 6", len(exercised))
	}
}
