package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/demo"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/policy"
)

// hostile is a value no page may turn into markup, script or reordered
// text (the data subject identifier a test enters); hostileName is the
// statistics agency's display name in the stack's agencies.yaml (the
// agencies.yaml validator already refuses bidi controls in names).
const (
	hostile     = "<script>alert(1)</script>\"onmouseover=alert(2) x=\"\u202Eevil"
	hostileName = "<script>alert(1)</script>\"onmouseover=alert(2) x=\""
)

// stack is the dev stack the browser tests walk: an embedded broker, the
// assembled exchange on SQLite over the example policy (the statistics
// agency renamed to hostileName), dev tokens, and demo traffic.
type stack struct {
	app   *app.App
	base  string
	data  string
	keys  *app.Keys
	kafka kafkaclient.Config
}

// copyExamples copies deploy/examples into a fresh directory, giving the
// statistics agency the display name hostileName.
func copyExamples(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	paths, _ := filepath.Glob("../../deploy/examples/*.*")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "agencies.yaml" {
			old := "name: National Statistics Office"
			if !strings.Contains(string(data), old) {
				t.Fatal("agencies.yaml no longer names the statistics office; adjust this test")
			}
			yamlHostile := `name: "<script>alert(1)</script>\"onmouseover=alert(2) x=\""`
			data = []byte(strings.Replace(string(data), old, yamlHostile, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startStack runs the stack until the test ends and publishes demo
// records until the ledger holds at least minEntries (none: 0), then
// stops the demo and waits for the ledger to settle. edits change the
// configuration first; base is the console's server address.
func startStack(ctx context.Context, t testing.TB, minEntries int, edits ...func(c *app.Config, base string)) *stack {
	t.Helper()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{base: "http://" + ln.Addr().String(), data: t.TempDir(), kafka: kafkaclient.Config{Brokers: []string{b.Addr()}}}
	dir := copyExamples(t)
	credDir := filepath.Join(s.data, devissuer.CredentialsDir)
	authn := devTokens(ctx, t, s.base, dir, credDir)
	cfg := app.Config{
		HTTP:  app.HTTPSecurity{Auth: authn},
		Kafka: exchange.KafkaConfig{Config: s.kafka}, DatabaseURL: "sqlite://" + filepath.Join(s.data, "x.db"),
		ContractsDir: dir, RegisterSchemaFiles: true, SeedFromFiles: true,
		KeyFile: filepath.Join(s.data, "secret.key"), CreateKey: true, SigningKeyFile: filepath.Join(s.data, "ledger.key"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timeliness: app.TimelinessConfig{FlushInterval: 100 * time.Millisecond},
		Console:    app.ConsoleConfig{DevTokens: devissuer.ConsoleTokens(credDir), PlainHTTPCookies: true},
	}
	for _, edit := range edits {
		edit(&cfg, s.base)
	}
	s.app, err = app.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.app.Close() })
	if s.keys, err = app.LoadOrCreateKeys(filepath.Join(s.data, "secret.key"), false); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.app.Run(runCtx, ln) }()
	t.Cleanup(func() { stop(); <-done })
	if minEntries > 0 {
		s.feed(ctx, t, minEntries)
	}
	return s
}

// devTokens writes the dev tokens of dir's agencies under credDir, as
// exchange dev does, and returns the authenticator that accepts them.
func devTokens(ctx context.Context, t testing.TB, base, dir, credDir string) *auth.Authenticator {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := devissuer.New(key, base)
	if err != nil {
		t.Fatal(err)
	}
	set, err := agreements.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.WriteTokens(ctx, credDir, set.Agencies, time.Now()); err != nil {
		t.Fatal(err)
	}
	authn, err := iss.Authenticator(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return authn
}

// feed runs the demo generator until the ledger holds minEntries, then
// waits until two reads a while apart agree (the in-flight batches are in).
func (s *stack) feed(ctx context.Context, t testing.TB, minEntries int) {
	t.Helper()
	demoCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = demo.Run(demoCtx, s.app, 200) }()
	count := func() int { return s.ledgerSize(ctx, t) }
	waitFor(t, "demo entries in the ledger", 90*time.Second, func() bool { return count() >= minEntries })
	stop()
	<-done
	last := -1
	waitFor(t, "the ledger to settle", 30*time.Second, func() bool {
		n := count()
		settled := n == last
		last = n
		time.Sleep(300 * time.Millisecond) // the interval between two reads, not an assertion
		return settled
	})
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deliveredCitizen reads health.immunisations' ingress records until one
// decodes to a citizen the ledger holds deliveries for, and returns that
// identifier with the delivery ids the ledger holds for the person (the
// test's own store query, independent of the console).
func (s *stack) deliveredCitizen(ctx context.Context, t *testing.T) (string, map[string]bool) {
	t.Helper()
	subject := names.IngressSubject("health.immunisations")
	latest, err := s.app.Registry().Latest(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kafkaclient.New(s.kafka)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	r := kc.Reader(kafka.ReaderConfig{Topic: names.Ingress("health.immunisations"), Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := 0; i < 500; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("reading ingress: %v", err)
		}
		if len(m.Value) < 5 || int(binary.BigEndian.Uint32(m.Value[1:5])) != latest.ID {
			continue // a malformed or unknown-schema demo record
		}
		var rec map[string]any
		if avro.Unmarshal(latest.Avro, m.Value[5:], &rec) != nil {
			continue
		}
		id, _ := rec["citizen_id"].(string)
		if want := s.deliveries(ctx, t, id); id != "" && len(want) > 0 {
			return id, want
		}
	}
	t.Fatal("no citizen with a delivery among 500 ingress records")
	return "", nil
}

// deliveries are the delivery ids the ledger holds for the person.
func (s *stack) deliveries(ctx context.Context, t *testing.T, id string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	q := ledger.Query{SubjectHash: policy.SubjectHash(s.keys.SubjectKey(), id), Limit: ledger.MaxLimit}
	for {
		p, err := s.app.Store().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			for _, d := range e.Deliveries {
				out[d.DeliveryID] = true
			}
		}
		if p.Next == "" {
			return out
		}
		q.After = p.Next
	}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
