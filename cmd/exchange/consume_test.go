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

	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/segmentio/kafka-go"
)

// startDevStack runs the assembled exchange on the example policy, an
// embedded broker and a SQLite store, as `exchange dev` does (with its
// issuer and tokens), until the test ends. It returns the broker address,
// the registry URL and the credentials directory of the tokens.
func startDevStack(ctx context.Context, t *testing.T) (brokers, registry, creds string) {
	t.Helper()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sec, err := devHTTPSecurity(ctx, data, examplesDir, "http://"+ln.Addr().String(), log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{
		Kafka: exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{b.Addr()}}}, DatabaseURL: "sqlite://" + filepath.Join(data, devLedgerFile),
		ContractsDir: examplesDir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		SigningKeyFile: filepath.Join(data, devSigningKeyFile),
		ReloadInterval: 50 * time.Millisecond,
		Logger:         log,
		HTTP:           sec,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})
	return b.Addr(), "http://" + ln.Addr().String() + "/registry", devCredentialsDir(data)
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
	brokers, registry, creds := startDevStack(ctx, t)
	publishSample := func() {
		t.Helper()
		args := []string{"--dataset", "health.immunisations", "--file", filepath.Join(examplesDir, "records", "health.immunisations.jsonl"),
			"--stamp-now", "administered_at", "--brokers", brokers, "--registry", registry,
			"--token", devissuer.AgencyToken(creds, "health")}
		// The worker creates the ingress topic when it starts; until then
		// publish refuses before sending anything.
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
	publishSample()

	const agreement = "health-to-social-2026-001"
	consumeTo := func(ctx context.Context, out, errOut io.Writer, args ...string) error {
		return consumeCmd(ctx, out, errOut, append([]string{"--brokers", brokers, "--registry", registry,
			"--token", devissuer.AgencyToken(creds, "social-services")}, args...))
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

	forgedDeliveriesFail(ctx, t, brokers, agreement, lines[0], consume)

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
func forgedDeliveriesFail(ctx context.Context, t *testing.T, brokers, agreement string, genuine consumedLine,
	consume func(context.Context, io.Writer, ...string) error) {
	t.Helper()
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{brokers}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
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
