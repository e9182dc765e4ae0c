package agreements

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGoodFiles: every testdata/*.good.yaml loads and validates without a problem.
func TestGoodFiles(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.good.yaml")
	if len(paths) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			s, ps, err := ValidateFiles(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) > 0 {
				t.Fatalf("%d problems:\n%v", len(ps), ps)
			}
			if len(s.Contracts)+len(s.Agreements) == 0 {
				t.Fatal("nothing loaded")
			}
		})
	}
}

// TestBadFilesGolden: the problems reported for each testdata/*.bad.yaml,
// one per line as `exchange agreement validate` prints them, equal the
// .golden file beside it. Run `go test ./agreements -run Golden -update`
// after a deliberate change of wording, and review the diff.
func TestBadFilesGolden(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(paths) == 0 {
		t.Fatal("no testdata/*.bad.yaml")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			_, ps, err := ValidateFiles(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) == 0 {
				t.Fatal("no problems reported for a bad file")
			}
			for _, pr := range ps {
				if pr.Pos.File != p || pr.Pos.Line < 1 || pr.Pos.Column < 1 {
					t.Errorf("problem without a full position: %v", pr)
				}
				if pr.Hint == "" {
					t.Errorf("problem without a hint: %v", pr)
				}
			}
			got := ps.Error() + "\n"
			golden := strings.TrimSuffix(p, ".bad.yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("problems differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
