package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// listed is what go list reports of one package: its non-test dependencies,
// direct and transitive.
type listed struct {
	ImportPath string
	Deps       []string
}

// TestRuntimeImportsNoTools: no package of the module outside cmd/ and
// exchange/tools/ depends on exchange/tools/... through its non-test files,
// so the tools stay out of the runtime's build and a new runtime package is
// covered without being listed here. Tests may import the tools.
func TestRuntimeImportsNoTools(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not on PATH")
	}
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module := strings.TrimSpace(string(mod))
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v", module, err)
	}
	pkgs, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of %s; expected the whole module", len(pkgs), module)
	}
	for _, v := range toolUsers(module, pkgs) {
		t.Error(v)
	}
}

// TestToolUsersFindsTransitiveImports: the check sees a runtime package that
// reaches a tool through another package, and leaves cmd/ and the tools alone.
func TestToolUsersFindsTransitiveImports(t *testing.T) {
	const m = "example.org/x"
	pkgs := []listed{
		{ImportPath: m + "/cmd/x", Deps: []string{m + "/exchange/tools/gen"}},
		{ImportPath: m + "/exchange/tools/bench", Deps: []string{m + "/exchange/tools/gen"}},
		{ImportPath: m + "/exchange/app", Deps: []string{m + "/exchange", m + "/exchange/tools/gen"}},
		{ImportPath: m + "/exchange/ledger", Deps: []string{"fmt"}},
		{ImportPath: m + "/policy", Deps: []string{"example.org/x/exchange/toolsmith"}},
	}
	got := toolUsers(m, pkgs)
	if len(got) != 1 || !strings.Contains(got[0], m+"/exchange/app ") {
		t.Errorf("toolUsers = %q, want only exchange/app", got)
	}
}

// toolUsers lists, one message each, the packages outside cmd/ and
// exchange/tools/ whose non-test dependencies include a tool.
func toolUsers(module string, pkgs []listed) []string {
	tools := module + "/exchange/tools"
	within := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	var out []string
	for _, p := range pkgs {
		if within(p.ImportPath, module+"/cmd") || within(p.ImportPath, tools) {
			continue
		}
		for _, d := range p.Deps {
			if within(d, tools) {
				out = append(out, p.ImportPath+" depends on "+d+": tools are for cmd/exchange and tests only")
			}
		}
	}
	return out
}

// decode reads the stream of JSON objects go list -json prints.
func decode(out []byte) ([]listed, error) {
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}
