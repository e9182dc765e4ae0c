package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/tools/demo"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

const (
	healthIngress    = "ingress.health.immunisations"
	taxIngress       = "ingress.tax.income-assessments"
	healthQuarantine = "quarantine.health.immunisations"
	socialAgreement  = "health-to-social-2026-001"
)

var (
	socialDeliver = names.Deliver("social-services", socialAgreement)
	statsDeliver  = names.Deliver("statistics", "health-to-statistics-2026-002")
	suspDeliver   = names.Deliver("social-services", "tax-to-social-2026-004")
	healthDeliver = names.Deliver("health", "civil-registry-to-health-2026-003")
)

// asAgency connects with the credentials exchange dev wrote for agency.
func (s *devStack) asAgency(t *testing.T, agency string) *kafkaclient.Clients {
	t.Helper()
	kc, err := clientsFromFile(devcreds.AgencyFile(s.dataDir, agency), agency)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	return kc
}

// TestDevModeAccess: through real kafka-go clients with the credentials
// exchange dev issued, each agency does what the policy grants and
// nothing else; without credentials nothing at all.
func TestDevModeAccess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := startDevStack(ctx, t)
	publishSampleTo(ctx, t, s) // the topics exist and hold records

	anon, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{s.brokers}}, kafkaclient.AdminTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.Ping(ctx); err == nil {
		t.Error("a client without credentials connected")
	}
	if err := produceOne(ctx, anon, healthIngress); err == nil {
		t.Error("a client without credentials produced")
	}
	if err := fetchOne(ctx, anon, socialDeliver); err == nil {
		t.Error("a client without credentials fetched")
	}

	health, social := s.asAgency(t, "health"), s.asAgency(t, "social-services")
	if err := produceOne(ctx, health, healthIngress); err != nil {
		t.Errorf("health producing to its own ingress: %v", err)
	}
	if err := fetchOne(ctx, social, socialDeliver); err != nil {
		t.Errorf("social-services reading its active agreement's delivery: %v", err)
	}
	for _, c := range []struct {
		who   string
		kc    *kafkaclient.Clients
		write bool
		topic string
	}{
		{"health", health, true, taxIngress},
		{"health", health, false, healthIngress},
		{"health", health, false, healthQuarantine},
		{"social-services", social, false, healthIngress},
		{"social-services", social, false, healthQuarantine},
		{"health", health, true, healthDeliver},
		{"social-services", social, true, socialDeliver},
		{"social-services", social, false, statsDeliver},
		{"social-services", social, false, suspDeliver},
	} {
		op, do := "reading", fetchOne
		if c.write {
			op, do = "writing", produceOne
		}
		if err := do(ctx, c.kc, c.topic); !deniedErr(err) {
			t.Errorf("%s %s %s: %v, want denied", c.who, op, c.topic, err)
		}
	}
}

// TestDevModeRevocation: a steward's revocation (recorded in the store:
// files cannot revoke) takes its consumer's READ away within 5 s, through
// the plan reload.
func TestDevModeRevocation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	contracts := copyExamples(t)
	s := startDevStackOn(ctx, t, contracts, t.TempDir())
	social := s.asAgency(t, "social-services")
	waitFor(t, "social-services reading its delivery", time.Minute, func() bool { return fetchOne(ctx, social, socialDeliver) == nil })

	if _, err := s.app.Store().AddTransition(ctx, store.Transition{AgreementID: socialAgreement,
		From: agreements.StatusActive, To: agreements.StatusRevoked, By: "amara.okafor", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	waitFor(t, "the revoked agreement's READ to go", 5*time.Second, func() bool { return deniedErr(fetchOne(ctx, social, socialDeliver)) })
	t.Logf("READ denied %v after the change", time.Since(changed).Round(time.Millisecond))
}

// TestDevCredentialsStable: the credentials are the same after a restart
// on the same data directory, private (0600 files, 0700 directories), and
// log in again; --insecure removes them.
func TestDevCredentialsStable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := t.TempDir()
	cfg := devKafkaConfig{addr: "127.0.0.1:0", dataDir: data, contracts: examplesDir, registry: "http://registry", partitions: 1}
	k, err := startDevKafka(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := devcreds.AgencyFile(data, "health")
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	k, err = startDevKafka(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(file)
	// The broker's port changes; the user and password do not.
	if strip(first) != strip(again) {
		t.Errorf("credentials changed across a restart:\n%s\nthen\n%s", first, again)
	}
	for _, want := range []string{"security.protocol=SASL_PLAINTEXT", "sasl.mechanism=SCRAM-SHA-512", "sasl.username=health", "schema.registry.url=http://registry", "basic.auth.credentials.source=USER_INFO", "basic.auth.user.info=health:"} {
		if !strings.Contains(string(again), want) {
			t.Errorf("%s lacks %s", file, want)
		}
	}
	java, _ := os.ReadFile(devcreds.JavaFile(data, "health"))
	if !strings.Contains(string(java), `ScramLoginModule required username="health" password="`) || strings.Contains(string(java), "schema.registry") {
		t.Errorf("java properties:\n%s", java)
	}
	for path, mode := range map[string]os.FileMode{file: 0o600, devcreds.JavaFile(data, "health"): 0o600, devcreds.AgenciesDir(data): 0o700 | os.ModeDir, devcreds.Dir(data): 0o700 | os.ModeDir} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode(), err, mode)
		}
	}
	kc, err := clientsFromFile(file, "health")
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	if err := kc.Ping(ctx); err != nil {
		t.Errorf("health after a restart: %v", err)
	}
	k.Close()

	cfg.insecure = true
	k, err = startDevKafka(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := os.Stat(devcreds.Dir(data)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--insecure left the credentials: %v", err)
	}
}

// TestDevInsecureIsLoud: --insecure runs a plain broker, and /readyz says so.
func TestDevInsecureIsLoud(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startDevStackWith(ctx, t, examplesDir, t.TempDir(), true)
	anon, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{s.brokers}})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if err := anon.Ping(ctx); err != nil {
		t.Errorf("--insecure: a plain client: %v", err)
	}
	res, err := http.Get(strings.TrimSuffix(s.registry, "/registry") + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"kafka_security"`) || !strings.Contains(string(body), "INSECURE") {
		t.Errorf("/readyz with --insecure: %s", body)
	}
}

// strip drops the bootstrap.servers line (the port changes across starts).
func strip(b []byte) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "bootstrap.servers=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func copyExamples(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(examplesDir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func produceOne(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	w := c.Writer(topic)
	w.MaxAttempts = 1
	defer w.Close()
	return w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
}

// fetchOne reads partition 0 with a kafka.Client Fetch, which reports the
// broker's error (a group Reader only retries silently).
func fetchOne(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	res, err := c.Admin().Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	return res.Error
}

// deniedErr: the broker refused (authorization failed), or hid the topic
// from a principal without DESCRIBE on it (the topics exist).
func deniedErr(err error) bool {
	return err != nil && (errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.UnknownTopicOrPartition) ||
		strings.Contains(err.Error(), "Authorization Failed") || strings.Contains(err.Error(), "topic not found"))
}

// TestDevDemoPublishesAsOwners: --demo on the secure broker publishes to
// every dataset's ingress, as its owner (the exchange may not write there).
func TestDevDemoPublishesAsOwners(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startDevStack(ctx, t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- demo.Run(runCtx, s.app, 200, demo.As(s.kafka.agencyConfig)) }()
	admin := s.kafka.admin.Admin()
	for _, ds := range s.app.Plan().Datasets() {
		topic := names.Ingress(ds)
		waitFor(t, "demo records on "+topic, 30*time.Second, func() bool { return endOffset(ctx, admin, topic) > 0 })
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("demo: %v", err)
	}
}

// endOffset sums the end offsets of topic's partitions (0 on any error).
func endOffset(ctx context.Context, c *kafka.Client, topic string) int64 {
	ranges, err := partitionRanges(ctx, c, topic, false)
	if err != nil {
		return 0
	}
	var n int64
	for _, r := range ranges {
		n += r.end
	}
	return n
}
