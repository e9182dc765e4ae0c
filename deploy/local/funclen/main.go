// Command funclen keeps functions short enough to read: it lists every
// function of the module's non-test Go files longer than -over lines and
// fails when
//
//   - any function is longer than -max lines,
//   - more than -allow functions are longer than -over lines, or
//   - a function in one of the -strict directories (the record path) is
//     longer than -over lines.
//
// Run by `make lint` and by deploy/local/test.sh with the defaults below
// (the limits issue 10 set):
//
//	go run ./deploy/local/funclen
//
// A -strict entry names a directory relative to the module root; it covers
// that directory's own files, not its subdirectories.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// recordPath lists the directories a record passes through: the runtime,
// the Kafka client builder, the ledger, the policy and the schema resolution.
const recordPath = "exchange,exchange/kafkaclient,exchange/ledger,policy,schemas/resolve"

// long is one function over the limit.
type long struct {
	pos   string // file:line
	dir   string // directory relative to the root
	name  string // Recv.Name or Name
	lines int
}

func main() {
	root := flag.String("root", ".", "module root")
	over := flag.Int("over", 80, "a function longer than this many lines is long")
	max := flag.Int("max", 120, "no function may be longer than this many lines")
	allow := flag.Int("allow", 8, "at most this many long functions in the whole tree")
	strict := flag.String("strict", recordPath, "comma-separated directories where no function may be long")
	flag.Parse()

	longs, total, err := scan(*root, *over)
	if err != nil {
		fmt.Fprintln(os.Stderr, "funclen:", err)
		os.Exit(2)
	}
	strictDirs := map[string]bool{}
	for _, d := range strings.Split(*strict, ",") {
		if d = strings.Trim(strings.TrimSpace(d), "/"); d != "" {
			strictDirs[filepath.Clean(d)] = true
		}
	}
	var problems []string
	for _, l := range longs {
		note := ""
		switch {
		case l.lines > *max:
			note = fmt.Sprintf("  <- over the maximum of %d", *max)
			problems = append(problems, fmt.Sprintf("%s %s is %d lines (maximum %d)", l.pos, l.name, l.lines, *max))
		case strictDirs[l.dir]:
			note = "  <- record path: at most " + fmt.Sprint(*over)
			problems = append(problems, fmt.Sprintf("%s %s is %d lines; %s/ is on the record path (at most %d)", l.pos, l.name, l.lines, l.dir, *over))
		}
		fmt.Printf("%4d %s %s%s\n", l.lines, l.pos, l.name, note)
	}
	if len(longs) > *allow {
		problems = append(problems, fmt.Sprintf("%d functions are over %d lines (at most %d)", len(longs), *over, *allow))
	}
	fmt.Printf("funclen: %d functions, %d over %d lines (at most %d allowed), none over %d allowed\n", total, len(longs), *over, *allow, *max)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("funclen: " + p)
		}
		fmt.Println("funclen: split the functions above into named steps")
		os.Exit(1)
	}
}

// scan parses every non-test Go file under root (skipping testdata, hidden
// directories and test-support packages named *test) and returns the
// functions longer than over lines, longest first, and the number of
// functions seen.
func scan(root string, over int) ([]long, int, error) {
	var longs []long
	total := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			total++
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > over {
				longs = append(longs, long{
					pos:   fmt.Sprintf("%s:%d", rel, start.Line),
					dir:   filepath.Dir(rel),
					name:  funcName(fd),
					lines: n,
				})
			}
		}
		return nil
	})
	sort.Slice(longs, func(i, j int) bool { return longs[i].lines > longs[j].lines })
	return longs, total, err
}

// funcName is Recv.Name for methods, Name otherwise.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
