package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

// TestPublishCSVKilledAndResumed imports a 1,000,000-row CSV file with the
// real binary, kills it with SIGKILL midway, runs the same command again,
// and counts the records on the topic by key: every row exactly once.
func TestPublishCSVKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1,000,000-row import (-short skips it)")
	}
	const rows = 1_000_000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "exchange")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.SeedTopics(3, "ingress.health.visits"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	registry := visitsRegistry(t)
	file := filepath.Join(dir, "visits.csv")
	writeVisitsCSV(t, file, rows)

	publish := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, "publish", "--dataset", "health.visits", "--file", file,
			"--brokers", strings.Join(c.ListenAddrs(), ","), "--registry", registry+"/registry", "--no-progress",
			"--resume-scan", "kafka") // no exchange here (a bare registry, no ACLs): the topic is read directly
		cmd.Dir = dir // no .exchange-dev here: plain --brokers
		return cmd
	}
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	killedAt, out, errOut := killAndResume(ctx, t, publish, file+".checkpoint", rows, kc, "ingress.health.visits")
	if !strings.HasPrefix(out.String(), fmt.Sprintf("published %d records, 0 errors", rows)) {
		t.Errorf("resumed import stdout %q", out.String())
	}
	if _, err := os.Stat(file + ".checkpoint"); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a complete import: %v", err)
	}

	counts := countTopicKeys(ctx, t, kc, "ingress.health.visits")
	published, dups, missing := 0, 0, 0
	for i := 1; i <= rows; i++ {
		n := counts["r-"+strconv.Itoa(i)]
		published += n
		if n > 1 {
			dups += n - 1
		}
		if n == 0 {
			missing++
		}
	}
	t.Logf("rows %d, killed after checkpoint of %d published, resumed: %s; on the topic: %d records, duplicates %d, missing %d",
		rows, killedAt, strings.TrimSpace(errOut.String()), published, dups, missing)
	if dups != 0 || missing != 0 || len(counts) != rows {
		t.Fatalf("duplicates %d, missing %d, distinct keys %d of %d rows", dups, missing, len(counts), rows)
	}
}

// killAndResume starts the import cmd makes, kills it with SIGKILL (no
// cleanup, maybe mid-batch) once its checkpoint counts a third of rows and
// records newer than the checkpoint are on topic (read through kc): the
// window where a checkpoint alone would republish them. Then it runs the
// same command again to its end and returns the published count of the
// checkpoint it was killed after, and the resumed run's output.
func killAndResume(ctx context.Context, t *testing.T, cmd func() *exec.Cmd, checkpoint string, rows int,
	kc *kafkaclient.Clients, topic string) (killedAt int, stdout, stderr *bytes.Buffer) {
	t.Helper()
	first := cmd()
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	killedAt, offsets := waitForCheckpoint(ctx, t, checkpoint, rows/3)
	waitForRecordsAfter(ctx, t, kc, topic, offsets)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second := cmd()
	stdout, stderr = &bytes.Buffer{}, &bytes.Buffer{}
	second.Stdout, second.Stderr = stdout, stderr
	if err := second.Run(); err != nil {
		t.Fatalf("resumed import: %v\nstdout: %s\nstderr: %s\nfirst run's stderr: %s", err, stdout, stderr, firstErr.String())
	}
	return killedAt, stdout, stderr
}

// visitsRegistry serves the schema of ingress.health.visits-value.
func visitsRegistry(t *testing.T) string {
	t.Helper()
	schema := `{"type":"record","name":"Visit","namespace":"health","fields":[
	  {"name":"record_id","type":"string"},{"name":"age","type":"int"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/registry/subjects/ingress.health.visits-value/versions/latest" {
			http.Error(w, `{"error_code":40401,"message":"Subject not found."}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": "ingress.health.visits-value", "version": 1, "id": 4, "schema": schema})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeVisitsCSV(t *testing.T, file string, rows int) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "record_id,age")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(w, "r-%d,%d\n", i, i%100)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitForCheckpoint polls the checkpoint file until it counts at least n
// published records, and returns its count and end offsets.
func waitForCheckpoint(ctx context.Context, t *testing.T, path string, n int) (int, map[int]int64) {
	t.Helper()
	for {
		var cp struct {
			Published int
			Offsets   map[int]int64
		}
		if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &cp) == nil && cp.Published >= n {
			return cp.Published, cp.Offsets
		}
		select {
		case <-ctx.Done():
			t.Fatalf("checkpoint %s never reached %d published records", path, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitForRecordsAfter polls the topic's end offsets until some partition
// has grown past offsets.
func waitForRecordsAfter(ctx context.Context, t *testing.T, kc *kafkaclient.Clients, topic string, offsets map[int]int64) {
	t.Helper()
	for {
		ends, err := kc.EndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		for p, e := range ends {
			if e > offsets[p] {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("no record was published after the checkpoint")
		case <-time.After(time.Millisecond):
		}
	}
}

// countTopicKeys reads the topic from the start to its end through kc
// and counts each key.
func countTopicKeys(ctx context.Context, t *testing.T, kc *kafkaclient.Clients, topic string) map[string]int {
	t.Helper()
	ends, err := kc.EndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for p, end := range ends {
		for off := int64(0); off < end; {
			res, err := kc.Admin().Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, Offset: off, MinBytes: 1, MaxBytes: 64 << 20})
			if err == nil {
				err = res.Error
			}
			if err != nil {
				t.Fatalf("reading %s/%d at %d: %v", topic, p, off, err)
			}
			before := off
			for {
				r, err := res.Records.ReadRecord()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.Offset >= off { // a fetch may start before the offset asked for
					key, _ := io.ReadAll(r.Key)
					counts[string(key)]++
					off = r.Offset + 1
				}
			}
			if off == before {
				t.Fatalf("reading %s/%d at %d: no record below the end %d", topic, p, off, end)
			}
		}
	}
	return counts
}

// TestPublishResumeAsksTheExchange: by default a resume asks the exchange
// at the --registry URL's root, with the publish credentials; a --registry
// elsewhere fails such a resume with a clear error (a new import needs no
// lookup); --resume-scan kafka and a bad value parse as documented.
func TestPublishResumeAsksTheExchange(t *testing.T) {
	var gotPath, gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotAuth, gotBody = r.Method+" "+r.URL.Path, r.Header.Get("Authorization"), string(b)
		_, _ = io.WriteString(w, `{"lines":[7,9],"end":[{"partition":0,"offset":12}]}`)
	}))
	defer srv.Close()
	tok := filepath.Join(t.TempDir(), "health.token")
	if err := os.WriteFile(tok, []byte("tok-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(extra ...string) *publishFlags {
		t.Helper()
		f, err := parsePublishFlags(io.Discard, append([]string{"--dataset", "health.visits", "--file", "x.csv", "--brokers", "127.0.0.1:1", "--token", tok}, extra...))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := parse("--registry", srv.URL+"/registry/")
	hc, err := f.creds.client()
	if err != nil {
		t.Fatal(err)
	}
	found, err := f.lineFinder(hc, nil, "ingress.health.visits").FindLines(context.Background(), "abc123", map[int]int64{1: 5, 0: 4})
	if err != nil || len(found) != 2 {
		t.Fatalf("lookup: %v %v", found, err)
	}
	if gotPath != "POST /api/v1/datasets/health.visits/imports/abc123/lines" || gotAuth != "Bearer tok-123" ||
		gotBody != `{"from":[{"partition":0,"offset":4},{"partition":1,"offset":5}]}` {
		t.Errorf("request %q, Authorization %q, body %s", gotPath, gotAuth, gotBody)
	}
	f = parse("--registry", srv.URL+"/elsewhere")
	if _, err := f.lineFinder(hc, nil, "ingress.health.visits").FindLines(context.Background(), "abc123", nil); err == nil || !strings.Contains(err.Error(), "does not end in /registry") {
		t.Errorf("--registry elsewhere: %v", err)
	}
	if f := parse("--resume-scan", "kafka"); f.resumeScan != "kafka" {
		t.Errorf("--resume-scan kafka parsed as %q", f.resumeScan)
	}
	if _, err := parsePublishFlags(io.Discard, []string{"--dataset", "health.visits", "--file", "x.csv", "--brokers", "127.0.0.1:1", "--resume-scan", "http"}); err == nil || !strings.Contains(err.Error(), "want exchange or kafka") {
		t.Errorf("--resume-scan http: %v", err)
	}
}

// TestPublishKilledAndResumedInDevMode runs exchange dev (SASL and the
// ACLs IDENTITY.md gives: health may write its ingress topic, not read
// it), imports a 100,000-row file of health.immunisations with the dev
// credentials, kills the import with SIGKILL once records newer than its
// checkpoint are on the topic, and runs the same command again: the resume
// asks the exchange for the lines after the checkpoint, and the topic
// (read as dev mode's super user) holds every row exactly once.
func TestPublishKilledAndResumedInDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs exchange dev and a 100,000-row import")
	}
	const rows = 100_000
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tr := startTour(ctx, t)
	file := filepath.Join(tr.dir, "immunisations.jsonl")
	writeImmunisations(t, file, rows)
	topic := names.Ingress("health.immunisations")
	admin, err := clientsFromFile(filepath.Join(tr.dir, devcreds.AdminFile(devDataDir, devAdminUser)), "dev credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	before := countTopicKeys(ctx, t, admin, topic)

	publishCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, tr.bin, "publish", "--dataset", "health.immunisations", "--file", file,
			"--brokers", tr.kafkaAddr, "--registry", "http://"+tr.httpAddr+"/registry", "--no-progress")
		cmd.Dir = tr.dir // the dev credentials of .exchange-dev apply
		return cmd
	}
	killedAt, out, errOut := killAndResume(ctx, t, publishCmd, file+".checkpoint", rows, admin, topic)
	if !strings.HasPrefix(out.String(), fmt.Sprintf("published %d records, 0 errors", rows)) || !strings.Contains(errOut.String(), "later records already on") {
		t.Errorf("resumed import: stdout %q, stderr %q", out.String(), errOut.String())
	}
	counts := countTopicKeys(ctx, t, admin, topic)
	dups, missing := 0, 0
	for i := 0; i < rows; i++ {
		switch n := counts[immunisationID(i)] - before[immunisationID(i)]; {
		case n > 1:
			dups += n - 1
		case n == 0:
			missing++
		}
	}
	t.Logf("rows %d, killed after checkpoint of %d published, resumed: %s; duplicates %d, missing %d",
		rows, killedAt, strings.TrimSpace(errOut.String()), dups, missing)
	if dups != 0 || missing != 0 {
		t.Fatalf("duplicates %d, missing %d of %d rows", dups, missing, rows)
	}
}

func immunisationID(i int) string { return fmt.Sprintf("resume-%d", i) }

// writeImmunisations writes rows records of health.immunisations: the
// example sample lines in turn, each with its own record_id.
func writeImmunisations(t *testing.T, file string, rows int) {
	t.Helper()
	data, err := os.ReadFile("../../deploy/examples/records/health.immunisations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var samples []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		samples = append(samples, m)
	}
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := 0; i < rows; i++ {
		m := samples[i%len(samples)]
		m["record_id"] = immunisationID(i)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
