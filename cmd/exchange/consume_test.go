package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/segmentio/kafka-go"
)

// devStack is a running exchange dev stack of a test.
type devStack struct {
	brokers, registry, dataDir, contracts string
	kafka                                 *devKafka
	app                                   *app.App
}

// credentials is the --credentials flag of agency.
func (s *devStack) credentials(agency string) []string {
	return []string{"--credentials", devcreds.AgencyFile(s.dataDir, agency)}
}

// startDevStack runs the assembled exchange on the example policy, the
// embedded broker with SASL and ACLs and a SQLite store, as `exchange dev`
// does, until the test ends.
func startDevStack(ctx context.Context, t *testing.T) *devStack {
	return startDevStackOn(ctx, t, examplesDir, t.TempDir())
}

// startDevStackOn is startDevStack on a contracts and a data directory.
func startDevStackOn(ctx context.Context, t *testing.T, contracts, data string) *devStack {
	t.Helper()
	return startDevStackWith(ctx, t, contracts, data, false)
}

// startDevStackWith is startDevStackOn, with --insecure or not.
func startDevStackWith(ctx context.Context, t *testing.T, contracts, data string, insecure bool) *devStack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logw io.Writer = io.Discard
	if os.Getenv("EXCHANGE_TEST_DEV_LOG") != "" {
		logw = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	s := &devStack{registry: "http://" + ln.Addr().String() + "/registry", dataDir: data, contracts: contracts}
	sec, err := devHTTPSecurity(ctx, data, contracts, "http://"+ln.Addr().String(), log)
	if err != nil {
		t.Fatal(err)
	}
	s.kafka, err = startDevKafka(ctx, devKafkaConfig{addr: "127.0.0.1:0", dataDir: data, contracts: contracts, registry: s.registry, partitions: 3, insecure: insecure, httpIngest: true, log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kafka.Close)
	s.brokers = s.kafka.Addr()
	s.app, err = app.New(ctx, app.Config{
		Kafka: s.kafka.exchange, DatabaseURL: "sqlite://" + filepath.Join(data, devLedgerFile),
		ContractsDir: contracts, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		SigningKeyFile: filepath.Join(data, devSigningKeyFile),
		ReloadInterval: 50 * time.Millisecond,
		Logger:         log,
		HTTP:           sec,
		HTTPIngest:     httpingest.Config{Enabled: true}, // as exchange dev
		SeedFromFiles:  true,                             // as runDev: the examples carry their lifecycle
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	s.kafka.warnIfInsecure(s.app)
	done := make(chan error, 1)
	go func() { done <- s.app.Run(runCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		s.app.Close()
	})
	return s
}

// lockedBuffer is a bytes.Buffer a command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// consumedLine is what the test reads of one output line.
type consumedLine struct {
	Topic     string            `json:"topic"`
	Key       string            `json:"key"`
	Headers   map[string]string `json:"headers"`
	SchemaID  int               `json:"schema_id"`
	Value     map[string]any    `json:"value"`
	Error     string            `json:"error"`
	Signature string            `json:"signature"`
}

func parseConsumed(t *testing.T, out string) []consumedLine {
	t.Helper()
	var lines []consumedLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var c consumedLine
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("output line is not JSON: %q: %v", l, err)
		}
		lines = append(lines, c)
	}
	return lines
}

// sampleCitizens maps each sample record's record_id to its raw citizen_id
// and phone.
func sampleCitizens(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir, "records", "health.immunisations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			RecordID  string `json:"record_id"`
			CitizenID string `json:"citizen_id"`
			Phone     string `json:"phone"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out[r.RecordID] = [2]string{r.CitizenID, r.Phone}
	}
	return out
}

// TestConsumePrintsDeliveries publishes the sample file with the banner's
// command and reads the social-services agreement's deliveries with
// `exchange consume`: JSON lines with the exchange headers and the
// agreement's transforms applied (citizen_id pseudonymised, phone masked,
// fields outside the agreement absent).
func TestConsumePrintsDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startDevStack(ctx, t)
	publishSample := func() {
		t.Helper()
		publishSampleTo(ctx, t, s)
	}
	publishSample()

	const agreement = "health-to-social-2026-001"
	consumeTo := func(ctx context.Context, out, errOut io.Writer, args ...string) error {
		return consumeCmd(ctx, out, errOut, append(append(s.credentials("social-services"), "--registry", s.registry), args...))
	}
	consume := func(ctx context.Context, out io.Writer, args ...string) error {
		return consumeTo(ctx, out, io.Discard, args...)
	}
	var lines []consumedLine
	waitFor(t, "deliveries of "+agreement, time.Minute, func() bool {
		var out bytes.Buffer
		if err := consume(ctx, &out, "--agreement", agreement, "--from-beginning"); err != nil {
			t.Fatalf("consume: %v", err)
		}
		lines = parseConsumed(t, out.String())
		return len(lines) > 0
	})
	raw := sampleCitizens(t)
	for _, l := range lines {
		if l.Error != "" || l.SchemaID == 0 {
			t.Fatalf("line not decoded: %+v", l)
		}
		for _, h := range []string{"exchange-agreement", "exchange-delivery-id", "exchange-source", "exchange-event-time", "traceparent"} {
			if l.Headers[h] == "" {
				t.Errorf("record %s lacks header %s: %v", l.Key, h, l.Headers)
			}
		}
		if l.Headers["exchange-agreement"] != agreement {
			t.Errorf("exchange-agreement %q", l.Headers["exchange-agreement"])
		}
		if l.Signature != "valid" {
			t.Errorf("record %s: signature %q, want valid", l.Key, l.Signature)
		}
		id, _ := l.Value["record_id"].(string)
		sample, ok := raw[id]
		if !ok {
			t.Fatalf("delivered record_id %q is not a sample record: %v", id, l.Value)
		}
		if c, _ := l.Value["citizen_id"].(string); c == "" || c == sample[0] {
			t.Errorf("record %s: citizen_id %q, want a pseudonym of %q", id, c, sample[0])
		}
		if p, _ := l.Value["phone"].(string); sample[1] != "" && (p == sample[1] || !strings.HasSuffix(p, sample[1][len(sample[1])-2:])) {
			t.Errorf("record %s: phone %q, want %q masked but its last two digits", id, p, sample[1])
		}
		if _, leaked := l.Value["practitioner_id"]; leaked {
			t.Errorf("record %s: a field outside the agreement was delivered", id)
		}
	}

	// --follow prints what arrives after it started, until interrupted.
	followCtx, stop := context.WithCancel(ctx)
	var followed, notes lockedBuffer
	done := make(chan error, 1)
	go func() { done <- consumeTo(followCtx, &followed, &notes, "--agreement", agreement, "--follow") }()
	waitFor(t, "consume --follow to take its start offsets", time.Minute, func() bool {
		return strings.Contains(notes.String(), "until interrupted")
	})
	publishSample()
	waitFor(t, "followed deliveries", time.Minute, func() bool { return len(parseConsumed(t, followed.String())) >= len(lines) })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consume --follow after interrupt: %v", err)
	}

	// Only the exchange may write deliver.*: the forger is the dev super user.
	forger, err := clientsFromFile(devcreds.AdminFile(s.dataDir, devAdminUser), "dev super user")
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	forgedDeliveriesFail(ctx, t, forger, agreement, lines[0], consume)

	// Errors name what is missing; a usage error exits 2.
	if err := consume(ctx, io.Discard, "--agreement", "no-such-agreement"); err == nil || !strings.Contains(err.Error(), `agreement "no-such-agreement" has no delivery topic`) || !strings.Contains(err.Error(), agreement) {
		t.Errorf("unknown agreement: %v", err)
	}
	if err := consume(ctx, io.Discard, "--topic", "no.such.topic"); err == nil || !strings.Contains(err.Error(), `topic "no.such.topic" does not exist`) {
		t.Errorf("unknown topic: %v", err)
	}
	if err := consume(ctx, io.Discard); exitCode(err) != 2 {
		t.Errorf("neither --agreement nor --topic: exit %d, want 2", exitCode(err))
	}
}

// publishSampleTo publishes the sample records of health.immunisations as
// health, as the banner says, waiting for the worker to create the topic
// (until then publish refuses before sending anything).
func publishSampleTo(ctx context.Context, t *testing.T, s *devStack) {
	t.Helper()
	args := append(s.credentials("health"), "--dataset", "health.immunisations", "--file", filepath.Join(examplesDir, "records", "health.immunisations.jsonl"),
		"--stamp-now", "administered_at", "--registry", s.registry)
	for {
		var out, errOut bytes.Buffer
		err := publishCmd(ctx, &out, &errOut, args)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "topic") || ctx.Err() != nil {
			t.Fatalf("publish: %v\n%s%s", err, out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forgedDeliveriesFail writes, as a client other than the exchange, copies
// of a genuine delivery to its topic: with its headers but another value,
// and without the signature. consume reports both.
func forgedDeliveriesFail(ctx context.Context, t *testing.T, kc *kafkaclient.Clients, agreement string, genuine consumedLine,
	consume func(context.Context, io.Writer, ...string) error) {
	t.Helper()
	w := kc.Writer(genuine.Topic)
	defer w.Close()
	var headers, unsigned []kafka.Header
	for k, v := range genuine.Headers {
		headers = append(headers, kafka.Header{Key: k, Value: []byte(v)})
		if k != "exchange-signature" {
			unsigned = append(unsigned, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	value := schemas.AppendFrame(nil, genuine.SchemaID) // a value the exchange never signed
	if err := w.WriteMessages(ctx,
		kafka.Message{Key: []byte("forged"), Value: value, Headers: headers},
		kafka.Message{Key: []byte("unsigned"), Value: value, Headers: unsigned},
	); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := consume(ctx, &out, "--agreement", agreement, "--from-beginning"); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range parseConsumed(t, out.String()) {
		got[l.Key] = l.Signature
	}
	if !strings.HasPrefix(got["forged"], "invalid: ") || got["unsigned"] != "missing" {
		t.Errorf("forged delivery: signature %q; unsigned: %q", got["forged"], got["unsigned"])
	}
}
