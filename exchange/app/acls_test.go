package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// aclWorld is a kfake cluster enforcing SASL/SCRAM and ACLs, with one user
// per agency of the example policy and the exchange's user: a super user,
// or an ordinary user when the test grants its rights itself.
type aclWorld struct {
	addr string
	dir  string // password files
}

func newACLWorld(t *testing.T, exchangeSuper bool) *aclWorld {
	t.Helper()
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []kfake.Opt{kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(kafkaclient.ScramSHA512, "admin", "pw-admin")}
	if exchangeSuper {
		opts = append(opts, kfake.Superuser(kafkaclient.ScramSHA512, "exchange", "pw-exchange"))
	} else {
		opts = append(opts, kfake.User(kafkaclient.ScramSHA512, "exchange", "pw-exchange"))
	}
	for _, id := range acl.Agencies(set) {
		opts = append(opts, kfake.User(kafkaclient.ScramSHA512, id, "pw-"+id))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &aclWorld{addr: c.ListenAddrs()[0], dir: t.TempDir()}
}

// conn is the connection block of user (password "pw-<user>" in a file).
func (w *aclWorld) conn(t *testing.T, user string) kafkaclient.Config {
	t.Helper()
	pw := filepath.Join(w.dir, user)
	if err := os.WriteFile(pw, []byte("pw-"+user), 0o600); err != nil {
		t.Fatal(err)
	}
	return kafkaclient.Config{Brokers: []string{w.addr}, SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user, PasswordFile: pw}}
}

func (w *aclWorld) clients(t *testing.T, user string) *kafkaclient.Clients {
	t.Helper()
	c, err := kafkaclient.New(w.conn(t, user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fetch reads partition 0 of topic with a kafka.Client Fetch, which
// reports the broker's refusal (a group Reader only retries silently).
func fetch(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	res, err := c.Admin().Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	return res.Error
}

// denied: the broker refused the read, or hid the topic from a principal
// without DESCRIBE on it (the topic exists: the same fetch succeeded before).
func denied(err error) bool {
	return err != nil && (errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.UnknownTopicOrPartition) ||
		strings.Contains(err.Error(), "Authorization Failed") || strings.Contains(err.Error(), "topic not found"))
}

// TestManagedACLsFollowThePlan runs the exchange with kafka.manage_acls on
// a broker enforcing ACLs: an active agreement's consumer reads its
// delivery topic; revoking the agreement by editing its file takes the
// read away within 5 s; an agreement reaching valid_until loses it at that
// moment, with no file changing (the sync's timer).
func TestManagedACLsFollowThePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange on a broker with ACLs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newACLWorld(t, true)
	dir := copyExamples(t)
	data := t.TempDir()
	var logs syncBuffer
	k := exchange.KafkaConfig{Config: w.conn(t, "exchange"), ManageACLs: true}
	a, err := New(ctx, Config{
		Kafka: k, DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		ReloadInterval: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	runApp(ctx, t, a)

	social, health := w.clients(t, "social-services"), w.clients(t, "health")
	h2s := names.Deliver("social-services", "health-to-social-2026-001")
	c2h := names.Deliver("health", "civil-registry-to-health-2026-003")
	waitFor(t, "both consumers reading their delivery topics", 30*time.Second, func() bool {
		return fetch(ctx, social, h2s) == nil && fetch(ctx, health, c2h) == nil
	})
	rec := httptest.NewRecorder()
	a.HTTP().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if !strings.Contains(rec.Body.String(), `{"name":"kafka_acls","ok":true}`) {
		t.Errorf("/readyz after the first sync: %d %s, want kafka_acls ok", rec.Code, rec.Body)
	}
	if err := fetch(ctx, social, c2h); !denied(err) {
		t.Errorf("social-services reading health's delivery topic: %v, want denied", err)
	}

	// Revocation: the consumer's next read is denied within 5 s of the edit.
	p := filepath.Join(dir, "agreement-health-to-social-2026-001.yaml")
	text, err := os.ReadFile(p)
	if err != nil || !bytes.Contains(text, []byte("\nstatus: active\n")) {
		t.Fatalf("%s: %v, or no longer active; adjust this test", p, err)
	}
	text = append(bytes.Replace(text, []byte("\nstatus: active\n"), []byte("\nstatus: revoked\n"), 1),
		"  - {from: active, to: revoked, by: amara.okafor, at: 2026-06-01T00:00:00Z, reason: \"Governance committee decision\"}\n"...)
	if err := os.WriteFile(p, text, 0o600); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	waitFor(t, "the revoked consumer's read denied", 5*time.Second, func() bool { return denied(fetch(ctx, social, h2s)) })
	t.Logf("read denied %v after the revocation was written", time.Since(revokedAt).Round(time.Millisecond))
	if err := a.LastReloadError(); err != nil {
		t.Fatalf("the revocation was refused: %v", err)
	}

	// Expiry: valid_until a few seconds ahead; the file changes now, the
	// grant must go at valid_until (not before, not a minute later).
	until := time.Now().Add(3 * time.Second).Truncate(time.Second)
	p = filepath.Join(dir, "agreement-civil-registry-to-health-2026-003.yaml")
	editWord(t, p, "valid_until: 2031-03-01T00:00:00Z", "valid_until: "+until.UTC().Format(time.RFC3339))
	waitFor(t, "the expired agreement's read denied", time.Until(until)+5*time.Second, func() bool {
		err := fetch(ctx, health, c2h)
		if denied(err) && time.Now().Before(until) {
			t.Fatalf("read denied at %v, before valid_until %v", time.Now(), until)
		}
		return denied(err)
	})
	t.Logf("read denied %v after valid_until", time.Since(until).Round(time.Millisecond))
	if n := value(a.acls.failures); n != 0 {
		t.Errorf("%v failed syncs, want none; log:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "ACLs reconciled with the plan") || !strings.Contains(logs.String(), "name="+c2h+" operation=READ") {
		t.Errorf("no log line naming the removed grant:\n%s", logs.String())
	}
}

// TestFailedACLSyncIsLoud: a sync the broker refuses (the exchange lacks
// ALTER on the cluster) is counted, logged at ERROR, refuses readiness
// naming the failure, and is retried until it succeeds once the right is
// granted; then readiness returns and the success time is exported.
func TestFailedACLSyncIsLoud(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newACLWorld(t, false)
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	r, err := newACLReconciler(exchange.KafkaConfig{Config: w.conn(t, "exchange"), GroupID: names.DefaultGroup},
		slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r.minBackoff, r.maxBackoff = 20*time.Millisecond, 100*time.Millisecond
	r.update(set)
	if err := r.ready(ctx); err == nil || !strings.Contains(err.Error(), "not reconciled") {
		t.Errorf("readiness before the first sync: %v, want refused", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.run(runCtx) }()
	defer func() { stop(); <-done }()

	waitFor(t, "two failed attempts", 10*time.Second, func() bool { return value(r.failures) >= 2 })
	if err := r.ready(ctx); err == nil || !strings.Contains(err.Error(), "ACL sync failing since") || !strings.Contains(err.Error(), "Authorization Failed") {
		t.Errorf("readiness while failing: %v, want refused naming the failure", err)
	}
	if !regexp.MustCompile(`level=ERROR msg="ACL sync failed[^"]*" err=".*Authorization Failed`).MatchString(logs.String()) {
		t.Errorf("no ERROR line naming the failure:\n%s", logs.String())
	}
	if value(r.lastSuccess) != 0 {
		t.Error("a success time before any success")
	}

	// The operator grants the exchange its cluster rights: the retry succeeds.
	admin := w.clients(t, "admin")
	grant := func(op string) acl.Rule {
		return acl.Rule{Principal: "User:exchange", ResourceType: acl.Cluster, PatternType: acl.Literal, ResourceName: acl.ClusterName, Operation: op, Permission: acl.Allow, Host: acl.AnyHost}
	}
	if err := aclsync.Apply(ctx, admin, acl.Changes{Create: []acl.Rule{grant(acl.Alter), grant(acl.Describe)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readiness after the grant", 10*time.Second, func() bool { return r.ready(ctx) == nil })
	if s := value(r.lastSuccess); s < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success %v, want about now", s)
	}
}

// value is the value of a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// runApp runs a until the test ends and returns its HTTP address.
func runApp(ctx context.Context, t *testing.T, a *App) string {
	t.Helper()
	addr, _ := runStoppable(ctx, t, a)
	return addr
}
