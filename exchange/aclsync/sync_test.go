package aclsync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// at is inside every example agreement's window: health-to-social-2026-001
// is active, tax-to-social-2026-004 suspended.
var at = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

const (
	healthIngress = "ingress.health.immunisations"
	taxIngress    = "ingress.tax.income-assessments"
	activeDeliver = "deliver.social-services.health-to-social-2026-001"
	suspDeliver   = "deliver.social-services.tax-to-social-2026-004"
)

// world is a kfake cluster enforcing SASL/SCRAM and ACLs, with the
// exchange as its super user and one user per example agency.
type world struct {
	addr string
	set  *agreements.Set
	dir  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []kfake.Opt{kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser(kafkaclient.ScramSHA512, "exchange", "pw-exchange"),
		kfake.SeedTopics(1, healthIngress, taxIngress, activeDeliver, suspDeliver)}
	for _, id := range acl.Agencies(set) {
		opts = append(opts, kfake.User(kafkaclient.ScramSHA512, id, "pw-"+id))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &world{addr: c.ListenAddrs()[0], set: set, dir: t.TempDir()}
}

// clients builds the clients of one SASL user (password "pw-<user>").
func (w *world) clients(t *testing.T, user string) *kafkaclient.Clients {
	t.Helper()
	pw := filepath.Join(w.dir, user)
	if err := os.WriteFile(pw, []byte("pw-"+user), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{w.addr},
		SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user, PasswordFile: pw}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestSyncAgainstKfake(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := w.clients(t, "exchange")
	opt := acl.Options{ManageACLs: true}

	// Before: an ACL the exchange does not manage, an operator's DENY, and
	// a stale grant it manages (READ on a suspended agreement's topic).
	unmanaged := acl.Rule{Principal: "User:monitoring", ResourceType: acl.Topic, PatternType: acl.Prefixed, ResourceName: "metrics.", Operation: acl.Read, Permission: acl.Allow, Host: acl.AnyHost}
	deny := acl.Rule{Principal: "User:tax", ResourceType: acl.Topic, PatternType: acl.Literal, ResourceName: taxIngress, Operation: acl.Write, Permission: acl.Deny, Host: acl.AnyHost}
	stale := acl.Rule{Principal: "User:social-services", ResourceType: acl.Topic, PatternType: acl.Literal, ResourceName: suspDeliver, Operation: acl.Read, Permission: acl.Allow, Host: acl.AnyHost}
	if err := Apply(ctx, admin, acl.Changes{Create: []acl.Rule{unmanaged, deny, stale}}); err != nil {
		t.Fatal(err)
	}

	dry, err := Sync(ctx, admin, w.set, at, opt, true)
	if err != nil {
		t.Fatal(err)
	}
	want := acl.Compile(w.set, at, opt)
	if len(dry.Create) != len(want) || !slices.Equal(dry.Delete, []acl.Rule{stale}) {
		t.Fatalf("dry run: create %d (want %d), delete %v (want the stale grant)", len(dry.Create), len(want), dry.Delete)
	}
	if have, _ := Describe(ctx, admin); len(have) != 3 {
		t.Fatalf("the dry run changed the cluster: %v", have)
	}

	if _, err := Sync(ctx, admin, w.set, at, opt, false); err != nil {
		t.Fatal(err)
	}
	again, err := Sync(ctx, admin, w.set, at, opt, false)
	if err != nil || !again.Empty() {
		t.Fatalf("second apply: %v, changes %+v, want none", err, again)
	}
	have, err := Describe(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	wantHave := append(slices.Clone(want), unmanaged, deny)
	acl.Sort(wantHave)
	if !slices.Equal(have, wantHave) {
		t.Errorf("after apply the cluster has\n%v\nwant the plan and the two unmanaged ACLs", have)
	}

	t.Run("agency access", func(t *testing.T) { checkAccess(ctx, t, w) })

	// Revoking the agreement and syncing again takes the consumer's READ away.
	a, _ := w.set.Agreement("health-to-social-2026-001")
	a.Status = agreements.StatusRevoked
	ch, err := Sync(ctx, admin, w.set, at, opt, false)
	if err != nil || len(ch.Create) != 0 || len(ch.Delete) != 2 {
		t.Fatalf("sync after revocation: %v, changes %+v, want READ and DESCRIBE deleted", err, ch)
	}
	if err := fetch(ctx, w.clients(t, "social-services"), activeDeliver); !denied(err) {
		t.Errorf("reading the delivery of a revoked agreement: %v, want denied", err)
	}
}

// checkAccess: after apply, each agency can do what its agreements allow
// and nothing else.
func checkAccess(ctx context.Context, t *testing.T, w *world) {
	health, social := w.clients(t, "health"), w.clients(t, "social-services")
	for _, topic := range []string{healthIngress, taxIngress, activeDeliver, suspDeliver} {
		if err := fetch(ctx, w.clients(t, "exchange"), topic); err != nil {
			t.Fatalf("the exchange reading %s: %v", topic, err)
		}
	}
	if err := produce(ctx, health, healthIngress); err != nil {
		t.Errorf("health producing to its own ingress: %v", err)
	}
	for _, topic := range []string{taxIngress, activeDeliver} {
		if err := produce(ctx, health, topic); !denied(err) {
			t.Errorf("health producing to %s: %v, want denied", topic, err)
		}
	}
	if err := produce(ctx, social, activeDeliver); !denied(err) {
		t.Errorf("social-services writing its own delivery topic: %v, want denied (only the exchange writes deliver.*)", err)
	}
	if err := fetch(ctx, social, activeDeliver); err != nil {
		t.Errorf("social-services reading its active agreement's delivery: %v", err)
	}
	for _, c := range []struct {
		who   string
		cl    *kafkaclient.Clients
		topic string
	}{{"social-services", social, suspDeliver}, {"social-services", social, healthIngress}, {"health", health, healthIngress}, {"health", health, activeDeliver}} {
		if err := fetch(ctx, c.cl, c.topic); !denied(err) {
			t.Errorf("%s reading %s: %v, want denied", c.who, c.topic, err)
		}
	}
}

func produce(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	w := c.Writer(topic)
	w.MaxAttempts = 1
	defer w.Close()
	return w.WriteMessages(ctx, kafka.Message{Value: []byte("x")})
}

// fetch reads partition 0 with a kafka.Client Fetch, which reports the
// broker's error (a group Reader only retries silently).
func fetch(ctx context.Context, c *kafkaclient.Clients, topic string) error {
	res, err := c.Admin().Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	return res.Error
}

// denied: the broker refused (TOPIC_AUTHORIZATION_FAILED), or hid the
// topic from a principal without DESCRIBE on it (unknown topic; the
// topics exist: checkAccess reads them as the exchange).
func denied(err error) bool {
	return err != nil && (errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.UnknownTopicOrPartition) ||
		strings.Contains(err.Error(), "Authorization Failed") || strings.Contains(err.Error(), "topic not found"))
}
