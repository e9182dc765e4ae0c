package kafkaclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/exchange-gov/exchange/agreements/names"
)

// The Apache Kafka access-control suite runs against the broker that
// `deploy/local/kafka.sh --sasl start` starts (make test starts one):
// SASL_PLAINTEXT with SCRAM, StandardAuthorizer, deny by default, the
// exchange as super user and one SCRAM user per agency. The credentials
// file is the one that script writes (user.<name>=<password> lines).
const (
	envSASLBrokers     = "EXCHANGE_TEST_KAFKA_SASL_BROKERS"
	envSASLCredentials = "EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS"
)

// callTimeout bounds every request of the suite: a broker that hangs fails
// the test instead of stalling it.
const callTimeout = 15 * time.Second

// saslBroker is the SASL broker of the suite and its users' passwords.
type saslBroker struct {
	brokers   []string
	superuser string
	passwords map[string]string
}

func saslBrokerFromEnv(t *testing.T) *saslBroker {
	t.Helper()
	brokers := os.Getenv(envSASLBrokers)
	if brokers == "" {
		t.Skipf("%s is not set: no Apache Kafka with SASL/SCRAM and ACLs (deploy/local/kafka.sh --sasl start)", envSASLBrokers)
	}
	path := os.Getenv(envSASLCredentials)
	if path == "" {
		t.Fatalf("%s is set but %s is not: the SCRAM users' passwords are needed", envSASLBrokers, envSASLCredentials)
	}
	superuser, passwords, err := readSASLCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	return &saslBroker{brokers: strings.Split(brokers, ","), superuser: superuser, passwords: passwords}
}

// readSASLCredentials reads the credentials file of deploy/local/kafka.sh.
func readSASLCredentials(path string) (superuser string, passwords map[string]string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("SASL credentials: %w", err)
	}
	defer f.Close()
	passwords = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		switch {
		case !ok:
			return "", nil, fmt.Errorf("SASL credentials %s: line %q is not key=value", path, line)
		case key == "superuser":
			superuser = value
		case strings.HasPrefix(key, "user."):
			passwords[strings.TrimPrefix(key, "user.")] = value
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("SASL credentials %s: %w", path, err)
	}
	if _, ok := passwords[superuser]; superuser == "" || !ok {
		return "", nil, fmt.Errorf("SASL credentials %s: no password for the super user %q", path, superuser)
	}
	return superuser, passwords, nil
}

// mechanism is SCRAM (algo) for user with password.
func mechanism(t *testing.T, algo scram.Algorithm, user, password string) sasl.Mechanism {
	t.Helper()
	m, err := scram.Mechanism(algo, user, password)
	if err != nil {
		t.Fatalf("SCRAM mechanism for %s: %v", user, err)
	}
	return m
}

// as is SCRAM-SHA-512 with the password the broker issued to user.
func (b *saslBroker) as(t *testing.T, user string) sasl.Mechanism {
	t.Helper()
	pw, ok := b.passwords[user]
	if !ok {
		t.Fatalf("no SCRAM user %q in %s", user, os.Getenv(envSASLCredentials))
	}
	return mechanism(t, scram.SHA512, user, pw)
}

// client is an admin/produce/fetch client authenticating with m (none when
// nil). Its short metadata TTL lets it see topics and ACL changes quickly.
func (b *saslBroker) client(t *testing.T, m sasl.Mechanism) *kafka.Client {
	t.Helper()
	tr := &kafka.Transport{SASL: m, MetadataTTL: 100 * time.Millisecond, DialTimeout: 5 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(b.brokers...), Transport: tr, Timeout: callTimeout}
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
	suffix := time.Now().UnixNano()
	own := names.Ingress(fmt.Sprintf("health.x%d", suffix))
	other := names.Ingress(fmt.Sprintf("tax.y%d", suffix))
	admin := b.client(t, b.as(t, b.superuser))
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
		c := b.client(t, mechanism(t, scram.SHA512, "health", "not-"+b.passwords["health"]))
		_, err := c.Metadata(callCtx(t), &kafka.MetadataRequest{Topics: []string{own}})
		if !errors.Is(err, kafka.SASLAuthenticationFailed) {
			t.Fatalf("metadata with a wrong password: %v, want %v", err, kafka.SASLAuthenticationFailed)
		}
	})
	t.Run("SCRAM-SHA-256", func(t *testing.T) {
		c := b.client(t, mechanism(t, scram.SHA256, "health", b.passwords["health"]))
		if _, err := c.Metadata(callCtx(t), &kafka.MetadataRequest{Topics: []string{own}}); err != nil {
			t.Fatalf("metadata as health over SCRAM-SHA-256: %v", err)
		}
	})
	t.Run("produce to own ingress", func(t *testing.T) {
		// The ACL reaches the broker's authorizer through the metadata log:
		// allow a moment for it.
		err := retryOn(kafka.TopicAuthorizationFailed, func() error { return b.produce(t, healthMech, own) })
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
		if err := retryOn(kafka.UnknownTopicOrPartition, func() error { return fetch(t, admin, own) }); err != nil {
			t.Fatalf("%s reading %s: %v", b.superuser, own, err)
		}
	})
}

// retryOn calls f until it returns anything but target, for up to 10 s:
// for what becomes true shortly after an admin request.
func retryOn(target error, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if !errors.Is(err, target) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
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

// produce writes one record to partition 0 of topic as the principal of m,
// on a connection to the broker itself: kafka-go's Transport and Writer
// answer a topic missing from their cached metadata with Unknown Topic,
// which would hide the broker's own answer to the Produce request.
func (b *saslBroker) produce(t *testing.T, m sasl.Mechanism, topic string) error {
	t.Helper()
	host, port, err := net.SplitHostPort(b.brokers[0])
	if err != nil {
		t.Fatalf("broker %q: %v", b.brokers[0], err)
	}
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("broker %q: %v", b.brokers[0], err)
	}
	d := &kafka.Dialer{SASLMechanism: m, Timeout: callTimeout}
	ctx := callCtx(t)
	// Single node: the broker leads every partition.
	conn, err := d.DialPartition(ctx, "tcp", b.brokers[0], kafka.Partition{
		Topic: topic, ID: 0, Leader: kafka.Broker{Host: host, Port: portNum},
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		return err
	}
	if err := conn.SetRequiredAcks(int(kafka.RequireAll)); err != nil {
		return err
	}
	_, err = conn.WriteMessages(kafka.Message{Value: []byte("probe")})
	return err
}

// fetch reads partition 0 of topic from the start through c, and wants at
// least one record (the one produce wrote) when allowed.
func fetch(t *testing.T, c *kafka.Client, topic string) error {
	t.Helper()
	resp, err := c.Fetch(callCtx(t), &kafka.FetchRequest{
		Topic: topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second,
	})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	if resp.Records == nil {
		return fmt.Errorf("no record in %s", topic)
	}
	if _, err := resp.Records.ReadRecord(); err != nil {
		return fmt.Errorf("no record in %s: %w", topic, err)
	}
	return nil
}
