package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboxFlag: exchange dev --outbox FILE loads each file as it parses
// (repeatable) and refuses a bad one naming it.
func TestOutboxFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "health.yaml")
	os.WriteFile(good, []byte("agency: health\ndatabase: {url_env: X}\nkafka_credentials: h.properties\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("agency: health\n"), 0o600)

	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	got := outboxFlag(fs)
	if err := fs.Parse([]string{"--outbox", good, "--outbox", good}); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 || (*got)[0].Agency != "health" || (*got)[0].Table != "exchange_outbox" {
		t.Fatalf("--outbox twice: %+v", *got)
	}
	fs = flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	outboxFlag(fs)
	if err := fs.Parse([]string{"--outbox", bad}); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "database") {
		t.Fatalf("--outbox bad.yaml: %v, want an error naming the file and the missing database", err)
	}
}
