package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenAt is a time inside every example agreement's validity window.
const goldenAt = "2026-12-01T00:00:00Z"

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/exchange -run ACL -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", path, got)
	}
}

// TestACLPlanGolden: `exchange acl plan` over deploy/examples.
func TestACLPlanGolden(t *testing.T) {
	var out, errb bytes.Buffer
	if err := aclPlan(&out, &errb, []string{"--contracts", "../../deploy/examples", "--at", goldenAt}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	golden(t, "acl-plan.golden", out.Bytes())
	// The suspended tax-to-social and the proposed civil-registry-to-tax
	// agreements grant nothing.
	for _, absent := range []string{"tax-to-social-2026-004", "civil-registry-to-tax-2026-006"} {
		if strings.Contains(out.String(), absent) {
			t.Errorf("plan grants access to %s", absent)
		}
	}
}

// TestACLExportStrimziGolden: one KafkaUser per agency and one for the
// exchange, each a valid YAML document of the Strimzi shape.
func TestACLExportStrimziGolden(t *testing.T) {
	var out, errb bytes.Buffer
	if err := aclExport(&out, &errb, []string{"--format", "strimzi", "--contracts", "../../deploy/examples", "--at", goldenAt, "--cluster", "exchange-kafka"}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	golden(t, "acl-export-strimzi.golden", out.Bytes())
	dec := yaml.NewDecoder(bytes.NewReader(out.Bytes()))
	var users []string
	for {
		var doc struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Metadata   struct {
				Name   string            `yaml:"name"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Authentication struct{ Type string } `yaml:"authentication"`
				Authorization  struct {
					Type string
					ACLs []struct {
						Resource   map[string]string `yaml:"resource"`
						Operations []string          `yaml:"operations"`
						Host       string            `yaml:"host"`
					} `yaml:"acls"`
				} `yaml:"authorization"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if doc.APIVersion != "kafka.strimzi.io/v1beta2" || doc.Kind != "KafkaUser" || doc.Metadata.Labels["strimzi.io/cluster"] != "exchange-kafka" ||
			doc.Spec.Authentication.Type != "scram-sha-512" || doc.Spec.Authorization.Type != "simple" || len(doc.Spec.Authorization.ACLs) == 0 {
			t.Errorf("document %+v is not a KafkaUser of the expected shape", doc)
		}
		users = append(users, doc.Metadata.Name)
	}
	if got := strings.Join(users, ","); got != "civil-registry,exchange,health,social-services,statistics,tax" {
		t.Errorf("KafkaUsers %s, want one per agency and the exchange", got)
	}
}

func TestACLUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if err := aclExport(&out, &errb, []string{"--format", "acl-json", "--contracts", "x"}); !errors.Is(err, exitError{2}) || !strings.Contains(errb.String(), "strimzi") {
		t.Errorf("unknown format: %v %q", err, errb.String())
	}
	if err := aclPlan(&out, &errb, []string{"--at", goldenAt}); !errors.Is(err, exitError{2}) {
		t.Errorf("no --contracts: %v", err)
	}
	if err := aclPlan(&out, &errb, []string{"--contracts", "../../deploy/examples", "--at", "tomorrow"}); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad --at: %v", err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "a.yaml"), []byte("kind: Agreement\nid: x\n"), 0o600)
	out.Reset()
	if err := aclPlan(&out, &errb, []string{"--contracts", bad}); !errors.Is(err, exitError{1}) || !strings.Contains(out.String(), "a.yaml:") {
		t.Errorf("invalid policy: %v, output %q", err, out.String())
	}
}

// TestACLApplyOnKfake: `exchange acl apply` with a configuration whose kafka
// block authenticates with SCRAM: the dry run lists the grants and changes
// nothing, the apply makes them, and a second apply has nothing to do.
func TestACLApplyOnKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(kafkaclient.ScramSHA512, "exchange", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "exchange.yaml")
	abs, _ := filepath.Abs("../../deploy/examples")
	os.WriteFile(cfg, []byte(`kafka:
  brokers: [`+c.ListenAddrs()[0]+`]
  sasl: {mechanism: SCRAM-SHA-512, username: exchange}
database: {url: "sqlite://`+dir+`/x.db"}
contracts: {dir: `+abs+`}
secrets: {key_file: `+dir+`/k}
`), 0o600)
	t.Setenv(kafkaclient.PasswordEnv, "pw")
	run := func(args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if err := aclApply(context.Background(), &out, &errb, append([]string{"--config", cfg, "--at", goldenAt}, args...)); err != nil {
			t.Fatalf("acl apply %v: %v\n%s", args, err, errb.String())
		}
		return out.String(), errb.String()
	}
	plan, _ := os.ReadFile(filepath.Join("testdata", "acl-plan.golden"))
	grants := strings.Count(string(plan), "\n") - 1
	out, summary := run("--dry-run")
	if strings.Count(out, "+ principal=") != grants || !strings.HasPrefix(summary, "dry run: ") {
		t.Errorf("dry run: %d creations, want %d; summary %q", strings.Count(out, "+ "), grants, summary)
	}
	if out2, _ := run("--dry-run"); out2 != out {
		t.Error("the dry run changed the cluster")
	}
	run()
	if out, summary := run(); out != "" || !strings.HasPrefix(summary, "applied: 0 to create, 0 to delete") {
		t.Errorf("second apply: %q %q, want nothing to do", out, summary)
	}
}
