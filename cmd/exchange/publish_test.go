package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestPublishCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()

	registry := visitsRegistry(t)

	dir := t.TempDir()
	file := filepath.Join(dir, "visits.jsonl")
	lines := `{"record_id":"a","age":1}` + "\n" + `{"record_id":"b","age":"abc"}` + "\n" + `{"record_id":"c","age":3}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--dataset", "health.visits", "--file", file,
		"--brokers", strings.Join(brokers, ","), "--registry", registry + "/registry"}

	// Before the topic exists: a clear error, nothing published.
	var out, errOut bytes.Buffer
	err = publishCmd(ctx, &out, &errOut, args)
	if err == nil || !strings.Contains(err.Error(), "topic ingress.health.visits") {
		t.Fatalf("without the topic: err %v", err)
	}

	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: "ingress.health.visits", NumPartitions: 3, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	err = publishCmd(ctx, &out, &errOut, args)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (err %v), want 1 for one bad line; stderr:\n%s", exitCode(err), err, errOut.String())
	}
	if out.String() != "published 2 records, 1 errors\n" {
		t.Fatalf("stdout %q", out.String())
	}
	if errOut.String() != "line 2: field \"age\": expected int, got string \"abc\"\n" {
		t.Fatalf("stderr %q", errOut.String())
	}

	// Usage errors exit 2; an unknown subject names it.
	if err := publishCmd(ctx, &out, &errOut, []string{"--dataset", "health.visits"}); exitCode(err) != 2 {
		t.Fatalf("without --file: exit %d, want 2", exitCode(err))
	}
	err = publishCmd(ctx, &out, &errOut, []string{"--dataset", "health.nope", "--file", file,
		"--brokers", strings.Join(brokers, ","), "--registry", registry + "/registry"})
	if err == nil || !strings.Contains(err.Error(), `subject "ingress.health.nope-value"`) {
		t.Fatalf("unknown subject: err %v", err)
	}
}

// TestPublishCommandCSV: a .csv file is read as CSV, a bad cell is reported
// by line and column, and the checkpoint of the import is gone once the
// file was read to its end; flag conflicts are usage errors.
func TestPublishCommandCSV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(3, "ingress.health.visits"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	registry := visitsRegistry(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "visits.csv")
	if err := os.WriteFile(file, []byte("record_id,age\na,1\n\"b, c\",x\nd,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--dataset", "health.visits", "--file", file,
		"--brokers", strings.Join(c.ListenAddrs(), ","), "--registry", registry + "/registry"}
	var out, errOut bytes.Buffer
	err = publishCmd(ctx, &out, &errOut, args)
	if exitCode(err) != 1 || out.String() != "published 2 records, 1 errors\n" ||
		errOut.String() != "line 3, column 2 (age): expected int, got string \"x\"\n" {
		t.Fatalf("exit %d (err %v)\nstdout %q\nstderr %q", exitCode(err), err, out.String(), errOut.String())
	}
	if _, err := os.Stat(file + ".checkpoint"); !os.IsNotExist(err) {
		t.Errorf("checkpoint after the whole file was read: %v", err)
	}

	// --format jsonl reads the same file as JSON lines: line 1 is not JSON.
	out.Reset()
	errOut.Reset()
	err = publishCmd(ctx, &out, &errOut, append(args, "--format", "jsonl", "--no-checkpoint"))
	if exitCode(err) != 1 || !strings.HasPrefix(errOut.String(), "line 1: invalid JSON") {
		t.Fatalf("--format jsonl: exit %d, stderr %q", exitCode(err), errOut.String())
	}

	// A checkpoint that cannot be written stops the import before it starts.
	err = publishCmd(ctx, &out, &errOut, append(args, "--checkpoint", filepath.Join(dir, "no", "such", "dir", "cp")))
	if err == nil || !strings.Contains(err.Error(), "--no-checkpoint imports without one") {
		t.Errorf("unwritable checkpoint: %v", err)
	}

	for _, bad := range [][]string{
		{"--format", "xml"},
		{"--progress", "--no-progress"},
		{"--checkpoint", filepath.Join(dir, "cp"), "--no-checkpoint"},
	} {
		if err := publishCmd(ctx, &out, &errOut, append(args, bad...)); err == nil || exitCode(err) == 0 {
			t.Errorf("%q: no error", bad)
		}
	}
}
