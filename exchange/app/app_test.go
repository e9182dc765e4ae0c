package app

import (
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

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
)

// copyExamples copies deploy/examples into a fresh directory the test may edit.
func copyExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	paths, _ := filepath.Glob("../../deploy/examples/*.*")
	for _, p := range paths {
		if !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".avsc") && !strings.HasSuffix(p, ".ics") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func topicSize(ctx context.Context, t *testing.T, c *kafka.Client, topic string, partitions int) int64 {
	t.Helper()
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		n += po.LastOffset
	}
	return n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDevStackDeliversAuditsAndHonoursRevocation runs the assembled exchange
// on the example policy (seeded from the files, as dev mode does): records
// published with a plain Kafka client are delivered, every decision is
// audited and served by /api/v1/audit, and a steward's revocation (in the
// store: files cannot revoke) stops its deliveries and reloads the plan,
// without a restart.
func TestDevStackDeliversAuditsAndHonoursRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	a, b, base := startStack(ctx, t, dir, func(c *Config) { c.SeedFromFiles = true })

	latest, err := a.Registry().Latest(ctx, "ingress.health.immunisations-value")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gen.New(latest.Avro, latest.ID, gen.EventTime("administered_at"), gen.Seed(3))
	if err != nil {
		t.Fatal(err)
	}
	ingress := names.Ingress("health.immunisations")
	stats := names.Deliver("statistics", "health-to-statistics-2026-002")
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: ingress, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Balancer: &kafka.Hash{}}
	defer w.Close()
	publish := func(n int) {
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			key, value, _, err := g.Next(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			msgs[i] = kafka.Message{Key: key, Value: value}
		}
		// The ingress topic is created by the worker; retry until it exists.
		waitFor(t, "publishing to "+ingress, 30*time.Second, func() bool { return w.WriteMessages(ctx, msgs...) == nil })
	}
	client := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	audited := func() int {
		resp, err := apiGet(t, base, "/api/v1/audit?dataset=health.immunisations&limit=1000")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var page struct {
			Entries []json.RawMessage `json:"entries"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&page) != nil {
			return -1
		}
		return len(page.Entries)
	}

	publish(20)
	waitFor(t, "20 audited decisions", time.Minute, func() bool { return audited() == 20 })
	// The API describes itself.
	if resp, err := apiGet(t, base, "/api/v1/openapi.json"); err != nil {
		t.Fatalf("GET /api/v1/openapi.json: %v", err)
	} else {
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		err := json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || doc.OpenAPI != "3.1.0" || doc.Paths["/api/v1/audit"] == nil {
			t.Fatalf("GET /api/v1/openapi.json: %d %v %+v", resp.StatusCode, err, doc.OpenAPI)
		}
	}
	delivered := topicSize(ctx, t, client, stats, 3)
	if delivered != 20 {
		t.Fatalf("statistics received %d of 20 valid, fresh records", delivered)
	}

	// Revoke the statistics agreement.
	before := a.Plan().Version()
	revokeStored(ctx, t, a, "health-to-statistics-2026-002")
	waitFor(t, "the plan to reload", 30*time.Second, func() bool {
		if err := a.LastReloadError(); err != nil {
			t.Fatalf("reload refused: %v", err)
		}
		return a.Plan().Version() != before
	})

	publish(20)
	waitFor(t, "40 audited decisions", time.Minute, func() bool { return audited() == 40 })
	if got := topicSize(ctx, t, client, stats, 3); got != delivered {
		t.Fatalf("statistics received %d records after revocation, want none (had %d)", got-delivered, delivered)
	}

	resp, err := apiGet(t, base, "/registry/subjects")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "deliver.statistics.health-to-statistics-2026-002-value") {
		t.Fatalf("/registry/subjects lacks the derived subject: %s", body)
	}
}

// TestNewReportsEveryPolicyProblem refuses to start on a broken policy and
// names the file and line of each problem.
func TestNewReportsEveryPolicyProblem(t *testing.T) {
	dir := copyExamples(t)
	p := filepath.Join(dir, "agreement-health-to-statistics-2026-002.yaml")
	text, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(text), "region: keep", "regoin: keep", 1)), 0o600)
	data := t.TempDir()
	_, err := New(context.Background(), Config{
		Kafka: kafkaAt("127.0.0.1:1"), DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: dir, RegisterSchemaFiles: true, KeyFile: filepath.Join(data, "k"), CreateKey: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t),
	})
	if err == nil || !strings.Contains(err.Error(), "agreement-health-to-statistics-2026-002.yaml:") || !strings.Contains(err.Error(), "regoin") {
		t.Fatalf("got %v, want a positioned problem naming regoin", err)
	}
}

// kafkaAt is the Kafka block of a test: brokers, defaults elsewhere.
func kafkaAt(brokers ...string) exchange.KafkaConfig {
	return exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: brokers}}
}

// startStack runs the assembled exchange on an embedded broker and a SQLite
// store over the policy in dir, until the test ends; edits change the
// configuration first (by default it logs nothing).
func startStack(ctx context.Context, t *testing.T, dir string, edits ...func(*Config)) (*App, *devbroker.Broker, string) {
	t.Helper()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	a, base, _ := startInstance(ctx, t, b.Addr(), t.TempDir(), dir, edits...)
	return a, b, base
}

// startInstance runs one exchange process on broker with its store, keys
// and ledger key in data (processes given the same data share them), over
// the policy in dir, until the test ends or stop is called.
func startInstance(ctx context.Context, t *testing.T, broker, data, dir string, edits ...func(*Config)) (a *App, base string, stop func()) {
	t.Helper()
	cfg := Config{
		HTTP:  testHTTP(t),
		Kafka: kafkaAt(broker), DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		SigningKeyFile: filepath.Join(data, "ledger.key"),
		ReloadInterval: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	a, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := runStoppable(ctx, t, a)
	return a, "http://" + addr, stop
}

// runStoppable runs a until the test ends or stop is called, and returns
// its HTTP address.
func runStoppable(ctx context.Context, t *testing.T, a *App) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			a.Close()
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestSampleRecordsReachDeliveryTopics publishes the sample file of
// deploy/examples the way the dev banner says (exchange publish with
// --stamp-now) and finds its records on the delivery and quarantine topics.
func TestSampleRecordsReachDeliveryTopics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, _ := startStack(ctx, t, copyExamples(t), func(c *Config) { c.SeedFromFiles = true })
	sum, err := publishSample(ctx, t, a, b.Addr())
	// The banner's own command must end cleanly: every line of the sample
	// file is a record (the bad lines live in health.immunisations.bad.jsonl).
	if err != nil || sum.Published != 19 || sum.Errors != 0 {
		t.Fatalf("publishing the sample file: %+v %v, want 19 published and no errors", sum, err)
	}
	client := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	stats := names.Deliver("statistics", "health-to-statistics-2026-002")
	social := names.Deliver("social-services", "health-to-social-2026-001")
	quarantine := names.Quarantine("health.immunisations")
	waitFor(t, "every published sample record routed", time.Minute, func() bool {
		return topicSize(ctx, t, client, stats, 3)+topicSize(ctx, t, client, quarantine, 3) >= int64(sum.Published)
	})
	if n := topicSize(ctx, t, client, stats, 3); n == 0 {
		t.Fatal("no sample record reached the statistics agreement")
	}
	if n := topicSize(ctx, t, client, social, 3); n == 0 {
		t.Fatal("no sample record reached the social-services agreement (regions north and east)")
	}
	t.Logf("published %d (%d line errors): statistics %d, social-services %d, quarantined %d", sum.Published, sum.Errors,
		topicSize(ctx, t, client, stats, 3), topicSize(ctx, t, client, social, 3), topicSize(ctx, t, client, quarantine, 3))
}
