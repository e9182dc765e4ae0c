package names_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNamesBuiltOnlyHere keeps this package the one place that spells the
// topic prefixes and the subject suffix: no other non-test Go file of the
// module has a string literal starting with one of the prefixes or ending in
// "-value". Tests and test-support packages (…test) may spell names out:
// they check them; so may prose (a hint such as "ingress.<dataset>-value").
func TestNamesBuiltOnlyHere(t *testing.T) {
	root := filepath.Join("..", "..")
	here, _ := filepath.Abs(".")
	prefixes := []string{"ingress.", "deliver.", "quarantine.", "notices."}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if abs, _ := filepath.Abs(path); abs == here || d.Name() == "testdata" || strings.HasSuffix(d.Name(), "test") || (strings.HasPrefix(d.Name(), ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || strings.ContainsAny(s, " <") {
				return true
			}
			for _, p := range prefixes {
				if strings.HasPrefix(s, p) {
					t.Errorf("%s: string %q spells a topic name: use package names", fset.Position(lit.Pos()), s)
				}
			}
			if strings.HasSuffix(s, "-value") {
				t.Errorf("%s: string %q spells a subject name: use package names", fset.Position(lit.Pos()), s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
