package auditapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// TestOpenAPISecurity: the document declares bearer, Basic and mutual
// TLS; every operation requires one and documents 401 and 403; what the
// authenticator answers conforms to the documented body.
func TestOpenAPISecurity(t *testing.T) {
	h := setup(t)
	doc := openAPI(t, h)
	schemes, _ := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	for name, typ := range map[string]string{"bearerAuth": "http", "basicAuth": "http", "mutualTLS": "mutualTLS"} {
		s, _ := schemes[name].(map[string]any)
		if s["type"] != typ {
			t.Errorf("securitySchemes.%s: %v, want type %s", name, s, typ)
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, o := range item.(map[string]any) {
			checkOperationSecurity(t, method+" "+path, o.(map[string]any))
		}
	}

	users, _ := auth.NewBasicUsers(map[string]string{})
	a, _ := auth.New(auth.WithBasicUsers(users))
	rec := httptest.NewRecorder()
	a.Middleware(h, nil, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/audit", nil))
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d %s", rec.Code, rec.Body)
	}
	for _, b := range conform(doc, responseSchema(t, doc, "/api/v1/audit", "401"), body, "$") {
		t.Errorf("401 body: %s", b)
	}
}

// checkOperationSecurity: op requires bearer, Basic or mutual TLS and
// documents 401 and 403.
func checkOperationSecurity(t *testing.T, path string, op map[string]any) {
	t.Helper()
	sec, _ := op["security"].([]any)
	var names []string
	for _, req := range sec {
		for n := range req.(map[string]any) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"basicAuth", "bearerAuth", "mutualTLS"}) {
		t.Errorf("%s: security %v", path, names)
	}
	for _, code := range []string{"401", "403"} {
		if op["responses"].(map[string]any)[code] == nil {
			t.Errorf("%s: no %s response documented", path, code)
		}
	}
}
