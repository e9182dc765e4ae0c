package stewardship_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// TestOpenAPIDocumentsRoutes: every route of the agreements API is in the
// OpenAPI document served at /api/v1/openapi.json, with security and a
// 401 and 403 answer, and the Agreement schema lists exactly the JSON keys
// of View, Approval and Change.
func TestOpenAPIDocumentsRoutes(t *testing.T) {
	rec := httptest.NewRecorder()
	auditapi.New(nil).OpenAPI().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	routes := stewardship.New(nil).Routes(nil)
	for pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s is not documented", pattern)
			continue
		}
		resp, _ := op["responses"].(map[string]any)
		if op["security"] == nil || resp["401"] == nil || resp["403"] == nil {
			t.Errorf("%s: security, 401 or 403 missing", pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if strings.HasPrefix(path, "/api/v1/agreements") && routes[strings.ToUpper(method)+" "+path] == nil {
				t.Errorf("%s %s is documented but not served", method, path)
			}
		}
	}
	for schema, v := range map[string]any{"Agreement": stewardship.View{}, "Approval": stewardship.Approval{}, "Transition": stewardship.Change{}} {
		var keys []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			keys = append(keys, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		s := doc.Components.Schemas[schema]
		var documented []string
		for k := range s.Properties {
			documented = append(documented, k)
		}
		slices.Sort(keys)
		slices.Sort(documented)
		required := slices.Sorted(slices.Values(s.Required))
		if !slices.Equal(keys, documented) || !slices.Equal(keys, required) {
			t.Errorf("schema %s documents %v (required %v); %T writes %v", schema, documented, required, v, keys)
		}
	}
}
