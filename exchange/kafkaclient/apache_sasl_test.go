package kafkaclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// The Apache Kafka access-control suite runs against the broker that
// `deploy/local/kafka.sh --sasl start` starts (make test starts one):
// SASL_PLAINTEXT with SCRAM, StandardAuthorizer, deny by default, the
// exchange as super user and one SCRAM user per agency (kafkatest).

// callTimeout bounds every request of the suite: a broker that hangs fails
// the test instead of stalling it.
const callTimeout = 15 * time.Second

// saslBroker is the SASL broker of the suite and its users' passwords.
type saslBroker struct{ *kafkatest.SASLBroker }

func saslBrokerFromEnv(t *testing.T) *saslBroker {
	t.Helper()
	return &saslBroker{kafkatest.SASLFromEnv(t)}
}

// mechanism is SCRAM (algo) for user with password.
func mechanism(t *testing.T, algo scram.Algorithm, user, password string) sasl.Mechanism {
	return kafkatest.Mechanism(t, algo, user, password)
}

// as is SCRAM-SHA-512 with the password the broker issued to user.
func (b *saslBroker) as(t *testing.T, user string) sasl.Mechanism {
	t.Helper()
	return b.As(t, user)
}

// client is an admin/produce/fetch client authenticating with m (none when
// nil). Its short metadata TTL lets it see topics and ACL changes quickly.
func (b *saslBroker) client(t *testing.T, m sasl.Mechanism) *kafka.Client {
	t.Helper()
	tr := &kafka.Transport{SASL: m, MetadataTTL: 100 * time.Millisecond, DialTimeout: 5 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(b.Brokers...), Transport: tr, Timeout: callTimeout}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// TestApacheSASLAccess checks, on Apache Kafka, what the exchange relies on:
// only authenticated clients get in, and an agency can do exactly what the
// ACLs the exchange (the super user) created grant it, nothing more.
func TestApacheSASLAccess(t *testing.T) {
	b := saslBrokerFromEnv(t)
	kafkatest.Lock(t, b.Brokers) // an exchange reconciling ACLs would delete health's grant
	suffix := time.Now().UnixNano()
	own := names.Ingress(fmt.Sprintf("health.x%d", suffix))
	other := names.Ingress(fmt.Sprintf("tax.y%d", suffix))
	admin := b.client(t, b.as(t, b.Superuser))
	createTopics(t, admin, own, other)
	grantWrite(t, admin, "User:health", own)
	healthMech := b.as(t, "health")
	health := b.client(t, healthMech)

	t.Run("no credentials", func(t *testing.T) {
		_, err := b.client(t, nil).Metadata(callCtx(t), &kafka.MetadataRequest{Topics: []string{own}})
		if err == nil {
			t.Fatal("metadata without credentials: no error")
		}
		t.Logf("without credentials: %v", err)
	})
	t.Run("wrong password", func(t *testing.T) {
		c := b.client(t, mechanism(t, scram.SHA512, "health", "not-"+b.Passwords["health"]))
		_, err := c.Metadata(callCtx(t), &kafka.MetadataRequest{Topics: []string{own}})
		if !errors.Is(err, kafka.SASLAuthenticationFailed) {
			t.Fatalf("metadata with a wrong password: %v, want %v", err, kafka.SASLAuthenticationFailed)
		}
	})
	t.Run("SCRAM-SHA-256", func(t *testing.T) {
		c := b.client(t, mechanism(t, scram.SHA256, "health", b.Passwords["health"]))
		// A network timeout (seen once on a loaded machine, right after the
		// broker's failed-authentication delay of the previous subtest) is
		// not a refusal: retry those; any other error fails at once.
		err := kafkatest.Eventually(10*time.Second, func(err error) bool {
			var ne net.Error
			return !errors.As(err, &ne) || !ne.Timeout()
		}, func() error {
			_, err := c.Metadata(callCtx(t), &kafka.MetadataRequest{Topics: []string{own}})
			return err
		})
		if err != nil {
			t.Fatalf("metadata as health over SCRAM-SHA-256: %v", err)
		}
	})
	t.Run("produce to own ingress", func(t *testing.T) {
		// The ACL reaches the broker's authorizer through the metadata log:
		// allow a moment for it.
		err := kafkatest.RetryOn(10*time.Second, kafka.TopicAuthorizationFailed, func() error { return b.produce(t, healthMech, own) })
		if err != nil {
			t.Fatalf("health producing to %s: %v", own, err)
		}
	})
	t.Run("produce to another agency's ingress", func(t *testing.T) {
		if err := b.produce(t, healthMech, other); !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Fatalf("health producing to %s: %v, want %v", other, err, kafka.TopicAuthorizationFailed)
		}
	})
	t.Run("read own ingress without READ", func(t *testing.T) {
		if err := fetch(t, health, own); !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Fatalf("health reading %s: %v, want %v", own, err, kafka.TopicAuthorizationFailed)
		}
		// The exchange reads it: the denial is the ACL, not a missing record.
		// (Retried while its client's cached metadata may predate the topic.)
		if err := kafkatest.RetryOn(10*time.Second, kafka.UnknownTopicOrPartition, func() error { return fetch(t, admin, own) }); err != nil {
			t.Fatalf("%s reading %s: %v", b.Superuser, own, err)
		}
	})
}

func createTopics(t *testing.T, admin *kafka.Client, topics ...string) {
	t.Helper()
	var cfg []kafka.TopicConfig
	for _, topic := range topics {
		cfg = append(cfg, kafka.TopicConfig{Topic: topic, NumPartitions: 1, ReplicationFactor: 1})
	}
	resp, err := admin.CreateTopics(callCtx(t), &kafka.CreateTopicsRequest{Topics: cfg})
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		resp, err := admin.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
		if err != nil {
			t.Errorf("DeleteTopics: %v", err)
			return
		}
		for topic, err := range resp.Errors {
			if err != nil {
				t.Errorf("DeleteTopics %s: %v", topic, err)
			}
		}
	})
	for _, topic := range topics {
		if err := resp.Errors[topic]; err != nil {
			t.Fatalf("CreateTopics %s: %v", topic, err)
		}
	}
}

// grantWrite gives principal WRITE and DESCRIBE on topic (literal), as the
// exchange does for a dataset's owner, and removes them when the test ends.
func grantWrite(t *testing.T, admin *kafka.Client, principal, topic string) {
	t.Helper()
	var acls []kafka.ACLEntry
	for _, op := range []kafka.ACLOperationType{kafka.ACLOperationTypeWrite, kafka.ACLOperationTypeDescribe} {
		acls = append(acls, kafka.ACLEntry{
			ResourceType:        kafka.ResourceTypeTopic,
			ResourceName:        topic,
			ResourcePatternType: kafka.PatternTypeLiteral,
			Principal:           principal,
			Host:                "*",
			Operation:           op,
			PermissionType:      kafka.ACLPermissionTypeAllow,
		})
	}
	resp, err := admin.CreateACLs(callCtx(t), &kafka.CreateACLsRequest{ACLs: acls})
	if err != nil {
		t.Fatalf("CreateACLs: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		resp, err := admin.DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: []kafka.DeleteACLsFilter{{
			ResourceTypeFilter:        kafka.ResourceTypeTopic,
			ResourceNameFilter:        topic,
			ResourcePatternTypeFilter: kafka.PatternTypeLiteral,
			PrincipalFilter:           principal,
			HostFilter:                "*",
			Operation:                 kafka.ACLOperationTypeAny,
			PermissionType:            kafka.ACLPermissionTypeAny,
		}}})
		if err != nil {
			t.Errorf("DeleteACLs: %v", err)
			return
		}
		deleted := 0
		for _, r := range resp.Results {
			if r.Error != nil {
				t.Errorf("DeleteACLs: %v", r.Error)
			}
			deleted += len(r.MatchingACLs)
		}
		if deleted != len(acls) {
			t.Errorf("DeleteACLs removed %d ACLs, want %d", deleted, len(acls))
		}
	})
	for i, err := range resp.Errors {
		if err != nil {
			t.Fatalf("CreateACLs %v: %v", acls[i].Operation, err)
		}
	}
}

// produce writes one record to partition 0 of topic as the principal of m
// (kafkatest.Produce: the broker's own answer).
func (b *saslBroker) produce(t *testing.T, m sasl.Mechanism, topic string) error {
	t.Helper()
	return kafkatest.Produce(callCtx(t), &kafka.Dialer{SASLMechanism: m, Timeout: callTimeout}, b.Brokers[0], topic)
}

// fetch reads partition 0 of topic from the start through c, and wants at
// least one record (the one produce wrote) when allowed.
func fetch(t *testing.T, c *kafka.Client, topic string) error {
	t.Helper()
	resp, err := kafkatest.Fetch(callCtx(t), c, topic)
	if err != nil {
		return err
	}
	if resp.Records == nil {
		return fmt.Errorf("no record in %s", topic)
	}
	if _, err := resp.Records.ReadRecord(); err != nil {
		return fmt.Errorf("no record in %s: %w", topic, err)
	}
	return nil
}
