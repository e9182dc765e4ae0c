package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exchangeBin is the `exchange` binary built once for the package run, or
// "" when the build failed (buildErr says why) or under -short.
var (
	exchangeBin string
	buildErr    error
	repoRoot    string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if testing.Short() {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "exchange-faults-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "faults: temp dir:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		exchangeBin, repoRoot, buildErr = build(dir)
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles ./cmd/exchange of the module this package belongs to.
func build(dir string) (bin, root string, err error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", "", fmt.Errorf("go env GOMOD: not inside a module")
	}
	root = filepath.Dir(gomod)
	bin = filepath.Join(dir, "exchange")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/exchange")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", root, fmt.Errorf("go build ./cmd/exchange: %v\n%s", err, out)
	}
	return bin, root, nil
}

// needBinary skips under -short and fails when the binary could not be built.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("fault injection runs exchange processes; skipped under -short")
	}
	if buildErr != nil {
		t.Fatalf("building the exchange binary: %v", buildErr)
	}
}
