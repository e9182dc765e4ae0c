package agreements

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBan: the model imports no Kafka client, SQL driver or HTTP
// anywhere in its dependency graph (the CLI does the HTTP).
func TestImportBan(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	banned := []string{"kafka", "franz-go", "database/sql", "pgx", "sqlite", "net/http"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.Contains(dep, b) {
				t.Errorf("agreements depends on %s (matches %q)", dep, b)
			}
		}
	}
}
