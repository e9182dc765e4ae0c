package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// binDir holds the exchange binary binOnce builds once per test process;
// TestMain removes it.
var binDir string

var binOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "exchange-outbox-bin")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "exchange")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/exchange").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/exchange: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestOutboxKill9 runs the real `exchange connect outbox --config FILE`
// (the agency's .properties file for Kafka and the registry's basic
// auth) and SIGKILLs it mid-stream, several times, while rows are being
// inserted; the last instance is stopped with SIGTERM once the outbox is
// empty. Every row must reach the ingress topic at least once, in order
// per key.
func TestOutboxKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs the exchange binary")
	}
	for _, mode := range []string{ModePoll, ModeReplication} {
		t.Run(mode, func(t *testing.T) { testKill9(t, mode) })
	}
}

func testKill9(t *testing.T, mode string) {
	w := newWorld(t)
	bin, err := binOnce()
	if err != nil {
		t.Fatal(err)
	}
	slot := storetest.RandomName("outbox_test_")
	if mode == ModeReplication {
		t.Cleanup(func() { w.dropSlot(slot) })
	}
	config := w.writeCommandConfig(mode, slot)
	writers := w.startWriters()
	for i := 0; i < faultKills; i++ {
		start := w.topicEnd()
		w.runCommand(bin, config, syscall.SIGKILL, func() bool { return w.topicEnd() >= start+40 })
	}
	writers.Wait()
	w.runCommand(bin, config, syscall.SIGTERM, func() bool { return w.count("exchange_outbox") == 0 })
	w.report()
}

// writeCommandConfig writes the agency's .properties file (as exchange dev
// writes them), a registry that wants the agency's basic auth, and the
// connector's YAML; it returns the YAML's path.
func (w *world) writeCommandConfig(mode, slot string) string {
	w.t.Helper()
	dir := w.t.TempDir()
	reg := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testAgency || p != "registry-secret" {
			http.Error(rw, `{"error_code":40101,"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/registry/subjects/"+names.IngressSubject(testDataset)+"/versions/latest" {
			http.Error(rw, `{"error_code":40401,"message":"Subject not found."}`, http.StatusNotFound)
			return
		}
		rw.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_ = json.NewEncoder(rw).Encode(map[string]any{"subject": names.IngressSubject(testDataset), "version": 1, "id": w.schema.ID, "schema": visitSchema})
	}))
	w.t.Cleanup(reg.Close)
	props := filepath.Join(dir, testAgency+".properties")
	writeFile(w.t, props, fmt.Sprintf(`bootstrap.servers=%s
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.username=%s
sasl.password=%s
schema.registry.url=%s/registry
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=%s:registry-secret
`, strings.Join(w.broker.Brokers, ","), testAgency, w.broker.Password(w.t, testAgency), reg.URL, testAgency))
	config := filepath.Join(dir, "outbox.yaml")
	writeFile(w.t, config, fmt.Sprintf(`agency: %s
mode: %s
database:
  url_env: OUTBOX_TEST_DATABASE_URL
slot: %s
publication: %s
batch_size: 7
poll_interval: 20ms
kafka_credentials: %s
registry:
  url: %s/registry
`, testAgency, mode, slot, slot, props, reg.URL))
	return config
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// runCommand starts the connector command, waits until done holds (polled),
// then sends sig and waits for the process to end.
func (w *world) runCommand(bin, config string, sig syscall.Signal, done func() bool) {
	w.t.Helper()
	cmd := exec.Command(bin, "connect", "outbox", "--config", config)
	cmd.Env = append(os.Environ(), "OUTBOX_TEST_DATABASE_URL="+w.dbURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			w.t.Fatalf("exchange connect outbox exited by itself (%v):\n%s", err, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			w.t.Fatalf("exchange connect outbox did not reach its stop condition in 90s:\n%s", out.String())
		case <-tick.C:
			if !done() {
				continue
			}
			_ = cmd.Process.Signal(sig)
			err := <-exited
			if sig == syscall.SIGTERM && err != nil {
				w.t.Fatalf("exchange connect outbox after SIGTERM: %v\n%s", err, out.String())
			}
			return
		}
	}
}

// topicEnd is the number of records on the ingress topic.
func (w *world) topicEnd() int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var reqs []kafka.OffsetRequest
	for p := 0; p < 3; p++ {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	offs, err := w.admin.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{w.topic: reqs}})
	if err != nil {
		w.t.Fatal(err)
	}
	var total int64
	for _, po := range offs.Topics[w.topic] {
		total += po.LastOffset
	}
	return total
}
