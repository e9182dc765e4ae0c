package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// aclWorld is a broker enforcing SASL/SCRAM and ACLs with one user per
// agency of the example policy and the exchange's user: a kfake cluster
// (the exchange a super user, or an ordinary user when the test grants its
// rights itself), or the SASL Apache Kafka of make test (kafkatest), where
// the exchange is the super user.
type aclWorld struct {
	brokers   []string
	passwords map[string]string // by user
	admin     string            // a super user
	apache    bool
	dir       string // password files
}

func newACLWorld(t *testing.T, exchangeSuper bool) *aclWorld {
	t.Helper()
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	supers, users := []string{"admin"}, acl.Agencies(set)
	if exchangeSuper {
		supers = append(supers, "exchange")
	} else {
		users = append(users, "exchange")
	}
	b := kafkatest.Kfake(t, supers, users)
	return &aclWorld{brokers: b.Brokers, passwords: b.Passwords, admin: b.Superuser, dir: t.TempDir()}
}

// newApacheACLWorld is the SASL Apache Kafka of make test (skipped without
// it), locked for this test: the exchange reconciling the example agencies'
// ACLs there would delete another test's grants.
func newApacheACLWorld(t *testing.T) *aclWorld {
	t.Helper()
	b := kafkatest.SASLFromEnv(t)
	kafkatest.Lock(t, b.Brokers)
	if b.Superuser != "exchange" {
		t.Skipf("the SASL broker's super user is %q; this test runs the exchange as \"exchange\"", b.Superuser)
	}
	return &aclWorld{brokers: b.Brokers, passwords: b.Passwords, admin: b.Superuser, apache: true, dir: t.TempDir()}
}

// conn is the connection block of user (its password in a file).
func (w *aclWorld) conn(t *testing.T, user string) kafkaclient.Config {
	t.Helper()
	pw, ok := w.passwords[user]
	if !ok {
		t.Fatalf("no SCRAM user %q on the broker", user)
	}
	file := filepath.Join(w.dir, user)
	if err := os.WriteFile(file, []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	return kafkaclient.Config{Brokers: w.brokers, SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user, PasswordFile: file}}
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
	_, err := kafkatest.Fetch(ctx, c.Admin(), topic)
	return err
}

// produce writes one record to partition 0 of topic as c's principal, and
// returns the broker's own answer.
func produce(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	return kafkatest.Produce(ctx, c.Dialer(), c.Brokers()[0], topic)
}

// denied: the broker refused the read or write, or hid the topic from a
// principal without DESCRIBE on it (callers check that the topic exists).
func denied(err error) bool { return kafkatest.Denied(err) }

// TestManagedACLsFollowThePlan runs the exchange with kafka.manage_acls on
// a broker enforcing ACLs — kfake, and the SASL Apache Kafka when make
// test runs one: through real clients with the issued credentials, each
// agency can do exactly what the plan grants (accessMatrix); revoking an
// agreement by editing its file takes its consumer's read away within
// 5 s; an agreement reaching valid_until loses it at that moment, with no
// file changing (the sync's timer).
func TestManagedACLsFollowThePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange on a broker with ACLs")
	}
	t.Run("kfake", func(t *testing.T) { managedACLsFollowThePlan(t, newACLWorld(t, true)) })
	t.Run("apache", func(t *testing.T) { managedACLsFollowThePlan(t, newApacheACLWorld(t)) })
}

func managedACLsFollowThePlan(t *testing.T, w *aclWorld) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	// Expiry: valid_until ahead by more than the setup below takes. Set in
	// the file before the start: changing it later is a change of terms,
	// which clears the approvals (issue 13) and drops the grant at once.
	until := time.Now().Add(15 * time.Second).Truncate(time.Second)
	editWord(t, filepath.Join(dir, "agreement-civil-registry-to-health-2026-003.yaml"),
		"valid_until: 2031-03-01T00:00:00Z", "valid_until: "+until.UTC().Format(time.RFC3339))
	data := t.TempDir()
	var logs syncBuffer
	k := exchange.KafkaConfig{Config: w.conn(t, "exchange"), ManageACLs: true}
	if w.apache {
		k.GroupID = "exchange-acl-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		w.cleanUp(t, k) // after the exchange stops (cleanups run last first)
	}
	a, err := New(ctx, Config{
		Kafka: k, DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		ReloadInterval: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
		HTTP:           testHTTP(t),
		SeedFromFiles:  true, // dev mode's: the example agreements start active
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
	w.accessMatrix(ctx, t)

	// Revocation (a steward's, in the store): the consumer's next read is
	// denied within 5 s.
	revokeStored(ctx, t, a, "health-to-social-2026-001")
	revokedAt := time.Now()
	waitFor(t, "the revoked consumer's read denied", 5*time.Second, func() bool { return denied(fetch(ctx, social, h2s)) })
	t.Logf("read denied %v after the revocation was recorded", time.Since(revokedAt).Round(time.Millisecond))
	if err := a.LastReloadError(); err != nil {
		t.Fatalf("the revocation was refused: %v", err)
	}

	// Expiry: the grant must go at valid_until (not before, not a minute later).
	if time.Now().After(until) {
		t.Fatalf("the setup outlasted valid_until %v; give it more time", until)
	}
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

// accessMatrix checks, through real clients with the credentials the
// broker issued, what the ACLs the exchange applied let health do: no
// credentials, no access; it writes its own ingress and reads its own
// active agreement's delivery topic; it writes no other agency's ingress
// and no delivery topic, reads no ingress, quarantine or other consumer's
// delivery topic. Each denied topic exists (the exchange, a super user,
// reads it), so a denial is the ACL's. Apache Kafka applies ACL changes
// asynchronously: what should be allowed is retried briefly.
func (w *aclWorld) accessMatrix(ctx context.Context, t *testing.T) {
	t.Helper()
	health, super := w.clients(t, "health"), w.clients(t, w.admin)
	own, other := names.Ingress("health.immunisations"), names.Ingress("tax.income-assessments")
	quarantine := names.Quarantine("health.immunisations")
	mine, theirs := names.Deliver("health", "civil-registry-to-health-2026-003"), names.Deliver("social-services", "health-to-social-2026-001")
	for _, topic := range []string{own, other, quarantine, mine, theirs} {
		err := kafkatest.RetryOn(10*time.Second, kafka.UnknownTopicOrPartition, func() error { return fetch(ctx, super, topic) })
		if err != nil {
			t.Fatalf("%s reading %s: %v (the topic should exist)", w.admin, topic, err)
		}
	}

	anon, err := kafkaclient.New(kafkaclient.Config{Brokers: w.brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, err := anon.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{own}}); err == nil {
		t.Error("metadata without credentials: allowed")
	}
	if err := produce(ctx, anon, own); err == nil {
		t.Errorf("producing to %s without credentials: allowed", own)
	}
	if err := fetch(ctx, anon, mine); err == nil {
		t.Errorf("reading %s without credentials: allowed", mine)
	}

	allowed := func(err error) bool { return !denied(err) }
	if err := kafkatest.Eventually(10*time.Second, allowed, func() error { return produce(ctx, health, own) }); err != nil {
		t.Errorf("health producing to its own %s: %v, want allowed", own, err)
	}
	if err := kafkatest.Eventually(10*time.Second, allowed, func() error { return fetch(ctx, health, mine) }); err != nil {
		t.Errorf("health reading its own delivery topic %s: %v, want allowed", mine, err)
	}
	var refusals []string
	for _, topic := range []string{other, mine, theirs} {
		err := produce(ctx, health, topic)
		if !denied(err) {
			t.Errorf("health producing to %s: %v, want denied", topic, err)
		}
		refusals = append(refusals, fmt.Sprintf("produce %s: %v", topic, err))
	}
	for _, topic := range []string{own, other, quarantine, theirs} {
		err := fetch(ctx, health, topic)
		if !denied(err) {
			t.Errorf("health reading %s: %v, want denied", topic, err)
		}
		refusals = append(refusals, fmt.Sprintf("fetch %s: %v", topic, err))
	}
	t.Logf("health refused:\n  %s", strings.Join(refusals, "\n  "))
}

// cleanUp registers the removal, once the test's exchange has stopped, of
// what it created on the shared Apache Kafka: the ACLs its plan manages,
// the topics the example policy names and its consumer group.
func (w *aclWorld) cleanUp(t *testing.T, k exchange.KafkaConfig) {
	t.Helper()
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	super := w.clients(t, w.admin)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		have, err := aclsync.Describe(ctx, super)
		if err != nil {
			t.Errorf("cleaning up ACLs: %v", err)
			return
		}
		opt := acl.Options{ExchangePrincipal: k.ExchangePrincipal(), ExchangeGroup: k.GroupID, ManageACLs: true}
		ch := acl.Diff(nil, have, acl.NewScope(set, opt))
		if err := aclsync.Apply(ctx, super, acl.Changes{Delete: ch.Delete}); err != nil {
			t.Errorf("cleaning up %d ACLs: %v", len(ch.Delete), err)
		}
		var topics []string
		for _, c := range set.Contracts {
			topics = append(topics, names.Ingress(c.Dataset), names.Quarantine(c.Dataset))
		}
		for _, a := range set.Agreements {
			topics = append(topics, names.Deliver(a.Consumer, a.ID))
		}
		for _, id := range acl.Agencies(set) {
			topics = append(topics, names.Notices(id))
		}
		if _, err := super.Admin().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics}); err != nil {
			t.Errorf("deleting the example topics: %v", err)
		}
		res, err := super.Admin().DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{k.GroupID}})
		if err == nil {
			err = res.Errors[k.GroupID]
		}
		if err != nil {
			t.Errorf("deleting the group %s: %v", k.GroupID, err)
		}
	})
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
	r, err := newACLReconciler(exchange.KafkaConfig{Config: w.conn(t, "exchange"), GroupID: names.DefaultGroup}, false,
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
