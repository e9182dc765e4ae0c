package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

	schema := `{"type":"record","name":"Visit","namespace":"health","fields":[
	  {"name":"record_id","type":"string"},{"name":"age","type":"int"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/registry/subjects/ingress.health.visits-value/versions/latest" {
			http.Error(w, `{"error_code":40401,"message":"Subject not found."}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": "ingress.health.visits-value", "version": 1, "id": 4, "schema": schema})
	}))
	defer srv.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "visits.jsonl")
	lines := `{"record_id":"a","age":1}` + "\n" + `{"record_id":"b","age":"abc"}` + "\n" + `{"record_id":"c","age":3}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--dataset", "health.visits", "--file", file,
		"--brokers", strings.Join(brokers, ","), "--registry", srv.URL + "/registry"}

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
		"--brokers", strings.Join(brokers, ","), "--registry", srv.URL + "/registry"})
	if err == nil || !strings.Contains(err.Error(), `subject "ingress.health.nope-value"`) {
		t.Fatalf("unknown subject: err %v", err)
	}
}
