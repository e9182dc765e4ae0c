package kafkaclient

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const kafkaGo = "github.com/segmentio/kafka-go"

// TestClientsBuiltOnlyHere fails when a non-test file of the module outside
// this package builds a kafka-go client itself: a kafka.NewReader,
// NewWriter or NewConsumerGroup call, a kafka.Dial* call, or a
// kafka.Dialer, Transport, Writer or Client literal. Those clients would
// miss the connection block (TLS, SASL, client id) and the safe producer
// defaults set in one place here.
func TestClientsBuiltOnlyHere(t *testing.T) {
	root := moduleRoot(t)
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			if rel == "exchange/kafkaclient" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		found, err := clientConstructions(path)
		if err != nil {
			return err
		}
		for _, f := range found {
			bad = append(bad, rel+":"+f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s: build kafka-go clients with kafkaclient.Clients (exchange/kafkaclient)", b)
	}
}

// TestClientConstructionsFound checks the detector on a sample.
func TestClientConstructionsFound(t *testing.T) {
	src := `package p
import kg "github.com/segmentio/kafka-go"
func f() {
	_ = kg.NewReader(kg.ReaderConfig{})
	_ = &kg.Writer{}
	_ = kg.Transport{}
	_, _ = kg.DialLeader(nil, "", "", "", 0)
	_ = kg.Message{}
	_ = []kg.Client{{}}
	_ = new(kg.Dialer)
}`
	p := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := clientConstructions(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "4:kafka.NewReader 5:kafka.Writer{} 6:kafka.Transport{} 7:kafka.DialLeader 10:new(kafka.Dialer)"
	if strings.Join(got, " ") != want {
		t.Errorf("found %q, want %q (a slice of Client values is not a client)", strings.Join(got, " "), want)
	}
}

// clientConstructions lists "line:what" for each client built in file.
func clientConstructions(path string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	pkg := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == kafkaGo {
			pkg = "kafka"
			if imp.Name != nil {
				pkg = imp.Name.Name
			}
		}
	}
	if pkg == "" || pkg == "_" {
		return nil, nil
	}
	sel := func(e ast.Expr) string {
		if s, ok := e.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok && id.Name == pkg {
				return s.Sel.Name
			}
		}
		return ""
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "new" && len(n.Args) == 1 && isClientType(sel(n.Args[0])) {
				out = append(out, strconv.Itoa(fset.Position(n.Pos()).Line)+":new(kafka."+sel(n.Args[0])+")")
			}
			name := sel(n.Fun)
			if name == "NewReader" || name == "NewWriter" || name == "NewConsumerGroup" || strings.HasPrefix(name, "Dial") {
				out = append(out, strconv.Itoa(fset.Position(n.Pos()).Line)+":kafka."+name)
			}
		case *ast.CompositeLit:
			if name := sel(n.Type); isClientType(name) {
				out = append(out, strconv.Itoa(fset.Position(n.Pos()).Line)+":kafka."+name+"{}")
			}
		}
		return true
	})
	return out, nil
}

func isClientType(name string) bool {
	return name == "Dialer" || name == "Transport" || name == "Writer" || name == "Client"
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
