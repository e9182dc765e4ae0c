package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// TestAgreementStewardCommands: propose, approve, suspend, resume and
// revoke through the CLI against exchange dev's HTTP surface, with the
// stewards' dev tokens; a steward of a third agency is refused (403), and
// approve without the reviewed hash approves nothing.
func TestAgreementStewardCommands(t *testing.T) {
	d := startDevHTTP(t)
	ctx := context.Background()
	run := func(steward, cmd string, args ...string) (string, error) {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append([]string{"--server", d.base, "--token", devissuer.StewardToken(d.creds, steward)}, args...)
		err := agreementAction(ctx, &out, &errOut, cmd, args)
		return out.String() + errOut.String(), err
	}
	terms := filepath.Join(t.TempDir(), "terms.yaml")
	if err := os.WriteFile(terms, []byte(`kind: Agreement
id: health-to-statistics-2027-010
provider: health.immunisations
consumer: statistics
purpose: Uptake by region for the annual report.
legal_basis: Statistics Act 2011, s.9(1)
valid_from: 2026-01-01T00:00:00Z
valid_until: 2099-01-01T00:00:00Z
fields:
  region: keep
  vaccine: keep
`), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = "health-to-statistics-2027-010"
	out, err := run("wei.zhang", "propose", terms)
	if err != nil || !strings.Contains(out, "agreement "+id+": proposed") {
		t.Fatalf("propose: %v %s", err, out)
	}
	out, err = run("amara.okafor", "approve", id)
	hash := regexp.MustCompile(`content hash: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if !errors.Is(err, exitError{2}) || hash == nil {
		t.Fatalf("approve without --content-hash: %v %s; want the terms and exit 2", err, out)
	}
	if out, err := run("helena.marsh", "approve", "--content-hash", hash[1], id); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("tax steward approving: %v %s; want 403", err, out)
	}
	for _, s := range []string{"amara.okafor", "wei.zhang"} {
		if out, err = run(s, "approve", "--content-hash", hash[1], id); err != nil {
			t.Fatalf("%s approves: %v %s", s, err, out)
		}
	}
	if !strings.Contains(out, ": active") {
		t.Fatalf("after both approvals: %s", out)
	}
	if out, err := run("helena.marsh", "suspend", "--reason", "x", id); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("tax steward suspending: %v %s; want 403", err, out)
	}
	for _, step := range []struct{ steward, cmd, want string }{
		{"wei.zhang", "suspend", "suspended"}, {"amara.okafor", "resume", "active"}, {"jonas.lindqvist", "revoke", "revoked"},
	} {
		out, err := run(step.steward, step.cmd, "--reason", "audit", id)
		if err != nil || !strings.Contains(out, ": "+step.want) {
			t.Fatalf("%s by %s: %v %s", step.cmd, step.steward, err, out)
		}
	}
	if out, err := run("amara.okafor", "resume", id); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("resuming a revoked agreement: %v %s; want 409", err, out)
	}
}
