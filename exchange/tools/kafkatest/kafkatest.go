package kafkatest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The environment of the SASL Apache Kafka (make test sets both).
const (
	EnvSASLBrokers     = "EXCHANGE_TEST_KAFKA_SASL_BROKERS"
	EnvSASLCredentials = "EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS"
)

// SASLBroker is the SASL Apache Kafka of the tests and its users'
// passwords: the exchange's user (Superuser) and one per agency of
// deploy/examples.
type SASLBroker struct {
	Brokers   []string
	Superuser string
	Passwords map[string]string // by user name
}

// SASLFromEnv is the broker EnvSASLBrokers names; the test is skipped when
// it is not set.
func SASLFromEnv(t testing.TB) *SASLBroker {
	t.Helper()
	brokers := os.Getenv(EnvSASLBrokers)
	if brokers == "" {
		t.Skipf("%s is not set: no Apache Kafka with SASL/SCRAM and ACLs (deploy/local/kafka.sh --sasl start)", EnvSASLBrokers)
	}
	path := os.Getenv(EnvSASLCredentials)
	if path == "" {
		t.Fatalf("%s is set but %s is not: the SCRAM users' passwords are needed", EnvSASLBrokers, EnvSASLCredentials)
	}
	superuser, passwords, err := ReadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	return &SASLBroker{Brokers: strings.Split(brokers, ","), Superuser: superuser, Passwords: passwords}
}

// ReadCredentials reads the credentials file of deploy/local/kafka.sh
// (superuser=<name> and user.<name>=<password> lines).
func ReadCredentials(path string) (superuser string, passwords map[string]string, err error) {
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

// Password is the password the broker issued to user.
func (b *SASLBroker) Password(t testing.TB, user string) string {
	t.Helper()
	pw, ok := b.Passwords[user]
	if !ok {
		t.Fatalf("no SCRAM user %q in %s", user, os.Getenv(EnvSASLCredentials))
	}
	return pw
}

// As is SCRAM-SHA-512 with the password the broker issued to user.
func (b *SASLBroker) As(t testing.TB, user string) sasl.Mechanism {
	t.Helper()
	return Mechanism(t, scram.SHA512, user, b.Password(t, user))
}

// Mechanism is SCRAM (algo) for user with password.
func Mechanism(t testing.TB, algo scram.Algorithm, user, password string) sasl.Mechanism {
	t.Helper()
	m, err := scram.Mechanism(algo, user, password)
	if err != nil {
		t.Fatalf("SCRAM mechanism for %s: %v", user, err)
	}
	return m
}

// Produce writes one record to partition 0 of topic through d (its SASL
// mechanism is the principal; none when nil), on a connection to the
// broker at addr itself, which must lead the partition (a single-node
// cluster): kafka-go's Transport and Writer answer a topic missing from
// their cached metadata with Unknown Topic, which would hide the broker's
// own answer to the Produce request. d comes from the caller
// (kafkaclient.Clients.Dialer, or a test's own): clients are built there.
func Produce(ctx context.Context, d *kafka.Dialer, addr, topic string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("broker %q: %w", addr, err)
	}
	portNum, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("broker %q: %w", addr, err)
	}
	conn, err := d.DialPartition(ctx, "tcp", addr, kafka.Partition{
		Topic: topic, ID: 0, Leader: kafka.Broker{Host: host, Port: portNum},
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if err := conn.SetRequiredAcks(int(kafka.RequireAll)); err != nil {
		return err
	}
	_, err = conn.WriteMessages(kafka.Message{Value: []byte("probe")})
	return err
}

// Fetch reads partition 0 of topic from offset 0 through c and returns the
// broker's refusal as the error (a group Reader would only retry).
func Fetch(ctx context.Context, c *kafka.Client, topic string) (*kafka.FetchResponse, error) {
	res, err := c.Fetch(ctx, &kafka.FetchRequest{
		Topic: topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	return res, res.Error
}

// Denied reports whether err is the broker refusing a principal: Topic
// Authorization Failed, or the topic hidden from a principal without
// DESCRIBE on it (callers check that the topic exists).
func Denied(err error) bool {
	return err != nil && (errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.UnknownTopicOrPartition) ||
		strings.Contains(err.Error(), "Authorization Failed") || strings.Contains(err.Error(), "topic not found"))
}

// RetryOn calls f until it returns anything but target, for up to timeout:
// for what becomes true shortly after an admin request (Apache Kafka
// applies an ACL change asynchronously, through its metadata log).
func RetryOn(timeout time.Duration, target error, f func() error) error {
	return Eventually(timeout, func(err error) bool { return !errors.Is(err, target) }, f)
}

// Eventually calls f until done accepts its result, for up to timeout, and
// returns the last result.
func Eventually(timeout time.Duration, done func(error) bool, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if done(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Lock holds, until the test ends, an exclusive lock on the ACLs of the
// cluster at brokers, shared by every test process of this machine: tests
// that create or reconcile ACLs for the example agencies take it, so a
// reconciling exchange never deletes another test's grants. It waits up
// to 5 minutes for a holder to finish.
func Lock(t testing.TB, brokers []string) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "exchange-test-acls-"+unsafeName.ReplaceAllString(strings.Join(brokers, ","), "_")+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("ACL lock: %v", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("ACL lock %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// Kfake starts a kfake cluster enforcing SASL/SCRAM-SHA-512 and ACLs, as
// the embedded broker of dev mode does, with the super users and ordinary
// users named (password "pw-<name>"; the first super user is Superuser),
// closed when the test ends. opts add to the cluster's options.
func Kfake(t testing.TB, superusers, users []string, opts ...kfake.Opt) *SASLBroker {
	t.Helper()
	if len(superusers) == 0 {
		t.Fatal("kafkatest.Kfake: no super user")
	}
	b := &SASLBroker{Superuser: superusers[0], Passwords: map[string]string{}}
	all := []kfake.Opt{kfake.Ports(0), kfake.EnableSASL(), kfake.EnableACLs()}
	for _, u := range superusers {
		b.Passwords[u] = "pw-" + u
		all = append(all, kfake.Superuser(scramSHA512, u, b.Passwords[u]))
	}
	for _, u := range users {
		b.Passwords[u] = "pw-" + u
		all = append(all, kfake.User(scramSHA512, u, b.Passwords[u]))
	}
	c, err := kfake.NewCluster(append(all, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake with SASL and ACLs: %v", err)
	}
	t.Cleanup(c.Close)
	b.Brokers = c.ListenAddrs()
	return b
}

// scramSHA512 is kfake's (and Kafka's) name of the mechanism.
const scramSHA512 = "SCRAM-SHA-512"
