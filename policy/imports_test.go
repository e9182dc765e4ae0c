package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBan keeps policy a pure library: no Kafka client, SQL or HTTP
// anywhere in its dependency graph, and of this module only the packages
// that are pure themselves (agreements for the model, schemas for the
// schema-version type, schemas/resolve for Avro resolution; schemas keeps its HTTP handler and client in
// schemas/registryhttp for this reason).
func TestImportBan(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const module = "github.com/exchange-gov/exchange"
	allowed := map[string]bool{
		module + "/policy":              true,
		module + "/agreements":          true,
		module + "/agreements/names":    true,
		module + "/agreements/calendar": true, // pure: business time for freshness
		module + "/schemas":             true,
		module + "/schemas/resolve":     true, // the one Avro resolution, shared with the registry
	}
	banned := []string{"kafka", "franz-go", "database/sql", "pgx", "sqlite", "net/http"}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module+"/") && !allowed[dep] {
			t.Errorf("policy depends on %s, which is not on its allow-list of this module's packages", dep)
		}
		for _, b := range banned {
			if strings.Contains(dep, b) {
				t.Errorf("policy depends on %s (matches %q)", dep, b)
			}
		}
	}
}
