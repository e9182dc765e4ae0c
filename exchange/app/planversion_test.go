package app

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// startOn assembles the exchange on the policy in dir and the state in
// data (no broker is needed to compile a plan), returns it and its log.
func startOn(t *testing.T, dir, data string) (*App, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	a, err := New(context.Background(), Config{
		Kafka: kafkaAt("127.0.0.1:1"), DatabaseURL: "sqlite://" + filepath.Join(data, "exchange.db"),
		ContractsDir: dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		SigningKeyFile: filepath.Join(data, "ledger-signing.key"),
		Logger:         slog.New(slog.NewTextHandler(&log, nil)),
		HTTP:           testHTTP(t),
		SeedFromFiles:  true, // dev mode's: the example agreements start active
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, &log
}

// editWord replaces the first old in file with new.
func editWord(t *testing.T, file, old, new string) {
	t.Helper()
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte(old)) {
		t.Fatalf("%s no longer holds %q; adjust this test", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(text, []byte(old), []byte(new), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// planLine is the log line with msg, "" when there is none.
func planLine(log *bytes.Buffer, msg string) string {
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			return l
		}
	}
	return ""
}

// TestPlanVersionStableAcrossRestarts: the plan version is a hash of what
// the plan was compiled from. Restarts on unchanged files keep it (the first
// start registers the derived schemas; that must not change the label), a
// fresh data directory gets the same one, and a one-word change in an
// agreement changes it, with a log line naming that agreement and no other.
func TestPlanVersionStableAcrossRestarts(t *testing.T) {
	dir, data := copyExamples(t), t.TempDir()
	var versions []string
	for i := 0; i < 3; i++ {
		a, log := startOn(t, dir, data)
		versions = append(versions, a.Plan().Version())
		a.Close()
		if line := planLine(log, "plan loaded"); !strings.Contains(line, "version="+versions[i]) || strings.Contains(line, "changed=") {
			t.Errorf("start %d: log line %q, want the version and no change", i+1, line)
		}
	}
	if versions[0] != versions[1] || versions[1] != versions[2] {
		t.Fatalf("plan versions of three starts on unchanged files: %v", versions)
	}
	if a, _ := startOn(t, dir, t.TempDir()); a.Plan().Version() != versions[0] {
		t.Errorf("a fresh data directory compiled plan %s from the same files, want %s", a.Plan().Version(), versions[0])
	}

	editWord(t, filepath.Join(dir, "agreement-health-to-statistics-2026-002.yaml"), "Quarterly official", "Monthly official")
	a, log := startOn(t, dir, data)
	if a.Plan().Version() == versions[0] {
		t.Fatal("a changed agreement kept the plan version")
	}
	want := `changed="agreement health-to-statistics-2026-002 changed"`
	if line := planLine(log, "plan loaded"); !strings.Contains(line, want) {
		t.Errorf("log line after the edit %q, want %s", line, want)
	}

	// The same while running: a reload names what changed since the plan in force.
	before := a.Plan().Version()
	editWord(t, filepath.Join(dir, "agreement-health-to-social-2026-001.yaml"), "Eligibility assessment", "Entitlement assessment")
	log.Reset()
	if err := a.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Plan().Version() == before {
		t.Fatal("the reload kept the plan version")
	}
	// New terms clear the approvals: the agreement's state changes too.
	want = `changed="agreement health-to-social-2026-001 changed; state of agreement health-to-social-2026-001 changed"`
	if line := planLine(log, "plan reloaded"); !strings.Contains(line, want) {
		t.Errorf("reload log line %q, want %s", line, want)
	}
}

func TestPlanContentChanges(t *testing.T) {
	prev, next := planContent{}, planContent{}
	prev.add("agreement a", []byte("x"))
	prev.add("agreement b", []byte("y"))
	prev.add("schema s version 1", []byte("1"))
	next.add("agreement a", []byte("x"))
	next.add("agreement b", []byte("y2"))
	next.add("schema s version 1", []byte("1"))
	next.add("schema s version 2", []byte("2"))
	next.add("contract d", []byte("c"))
	want := []string{"agreement b changed", "contract d added", "schema s version 2 added"}
	if got := next.changesSince(prev); !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	if got := prev.changesSince(next); !reflect.DeepEqual(got, []string{"agreement b changed", "contract d removed", "schema s version 2 removed"}) {
		t.Errorf("reverse changes %q", got)
	}
	if prev.version() == next.version() {
		t.Error("different content, same version")
	}
}
