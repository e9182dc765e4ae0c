package auditapi

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestOpenAPIParametersMatch: the document lists exactly the parameters
// each handler accepts.
func TestOpenAPIParametersMatch(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	for path, accepted := range map[string]map[string]bool{
		"/api/v1/audit":         auditParams,
		"/api/v1/lineage":       lineageParams,
		"/api/v1/openapi.json":  {},
		"/api/v1/delivery-keys": {},
		"/api/v1/sla":           slaParams,
		"/api/v1/sla/events":    slaEventParams,
		"/api/v1/notices":       noticeParams,
	} {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("%s: no GET operation documented", path)
			continue
		}
		var documented []string
		for _, p := range op.Parameters {
			if p.In != "query" {
				t.Errorf("%s: parameter %s in %q, want query", path, p.Name, p.In)
			}
			documented = append(documented, p.Name)
		}
		slices.Sort(documented)
		want := slices.Sorted(maps.Keys(accepted))
		if !slices.Equal(documented, want) {
			t.Errorf("%s: documented parameters %v, the handler accepts %v", path, documented, want)
		}
	}
	// + POST /api/v1/datasets/{dataset}/records (connectors/httpingest),
	// POST /api/v1/datasets/{dataset}/imports/{import}/lines (exchange/app),
	// 6 paths of package catalogapi and 4 of the agreements API (package
	// stewardship), each tested there.
	if len(doc.Paths) != 19 {
		t.Errorf("document has %d paths, want 19", len(doc.Paths))
	}
}
