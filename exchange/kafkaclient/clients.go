package kafkaclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
)

// Clients builds every kafka-go client of the binary from one Config. It
// holds one Transport, shared by the Writers and admin Clients it hands
// out: kafka-go refreshes a transport's metadata cache after a CreateTopics
// through it, so a Writer sees the topics its admin client just created
// (otherwise up to the metadata TTL, 6 s, later). Readers and consumer
// groups dial their own connections through Dialer. Safe for concurrent use.
type Clients struct {
	cfg          Config
	tls          *tls.Config
	sasl         sasl.Mechanism // nil: no SASL
	getenv       func(string) string
	transport    kafka.RoundTripper
	ownTransport bool
	dialTimeout  time.Duration
	adminTimeout time.Duration
}

// Opt configures Clients.
type Opt interface{ apply(*Clients) }

type opt func(*Clients)

func (o opt) apply(c *Clients) { o(c) }

// DialTimeout bounds connecting to a broker (TCP and TLS handshake) for
// Readers and consumer groups. Default 10s (kafka-go's DefaultDialer).
func DialTimeout(d time.Duration) Opt { return opt(func(c *Clients) { c.dialTimeout = d }) }

// AdminTimeout bounds one request of an admin Client. Default 30s.
func AdminTimeout(d time.Duration) Opt { return opt(func(c *Clients) { c.adminTimeout = d }) }

// Getenv is where the SASL password is looked up when the block names no
// password_file (PasswordEnv). Default os.Getenv.
func Getenv(f func(string) string) Opt { return opt(func(c *Clients) { c.getenv = f }) }

// WithTransport makes Writers and admin Clients use rt, which the caller
// owns (Close leaves it open) and configures (Config's TLS, SASL and client
// id do not apply to it). Default: a new kafka.Transport from Config, closed by
// Close. Tests use it to share one metadata cache between their own
// clients and the code under test.
func WithTransport(rt kafka.RoundTripper) Opt {
	return opt(func(c *Clients) { c.transport = rt })
}

// New validates cfg, loads its TLS files and the SASL password and returns
// the builder. It opens no connection.
func New(cfg Config, opts ...Opt) (*Clients, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Brokers = slices.Clone(cfg.Brokers)
	c := &Clients{cfg: cfg, dialTimeout: 10 * time.Second, adminTimeout: 30 * time.Second, getenv: os.Getenv}
	for _, o := range opts {
		o.apply(c)
	}
	if c.dialTimeout <= 0 || c.adminTimeout <= 0 {
		return nil, fmt.Errorf("kafka clients: dial timeout %v and admin timeout %v must be positive", c.dialTimeout, c.adminTimeout)
	}
	var err error
	if c.tls, err = cfg.TLS.tlsConfig(); err != nil {
		return nil, err
	}
	if c.sasl, err = cfg.SASL.mechanism(c.getenv); err != nil {
		return nil, err
	}
	if c.transport == nil {
		c.transport = &kafka.Transport{ClientID: cfg.ClientID, TLS: c.tls, SASL: c.sasl}
		c.ownTransport = true
	}
	return c, nil
}

// Close closes the idle connections of the Transport New created (not one
// given with WithTransport). Close it after every Writer and Client built
// from it is done.
func (c *Clients) Close() {
	if t, ok := c.transport.(*kafka.Transport); ok && c.ownTransport {
		t.CloseIdleConnections()
	}
}

// Brokers are the bootstrap addresses (a copy).
func (c *Clients) Brokers() []string { return slices.Clone(c.cfg.Brokers) }

// Addr is the brokers as the net.Addr of kafka-go's Writer and Client; its
// String is the addresses joined by commas.
func (c *Clients) Addr() net.Addr { return kafka.TCP(c.cfg.Brokers...) }

// Transport is the shared transport of Writers and admin Clients.
func (c *Clients) Transport() kafka.RoundTripper { return c.transport }

// Dialer returns a new Dialer for Readers and consumer groups (TLS, SASL,
// client id, DialTimeout).
func (c *Clients) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: c.dialTimeout, DualStack: true, ClientID: c.cfg.ClientID, TLS: c.tls, SASLMechanism: c.sasl}
}

// Ping asks the brokers for the cluster's metadata through the admin
// client: it fails when no broker answers or the brokers refuse the
// block's credentials, with an error naming the brokers, the mechanism and
// the user (never the password).
func (c *Clients) Ping(ctx context.Context) error {
	_, err := c.Admin().Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("kafka %s (sasl %s): %w", strings.Join(c.cfg.Brokers, ","), c.cfg.SASL, Explain(err))
	}
	return nil
}

// Explain adds a hint to the errors kafka-go reports for refused or
// missing credentials; other errors come back as they are.
func Explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return fmt.Errorf("%w (wrong user or password, or the user does not exist for this mechanism)", err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return fmt.Errorf("%w (the brokers do not enable this kafka.sasl.mechanism)", err)
	case errors.Is(err, kafka.TopicAuthorizationFailed), errors.Is(err, kafka.GroupAuthorizationFailed), errors.Is(err, kafka.ClusterAuthorizationFailed):
		return fmt.Errorf("%w (the principal lacks an ACL: see exchange acl plan)", err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (the broker closed the connection: it refused the credentials, or it requires SASL or TLS the block does not configure)", err)
	}
	return err
}

// Writer returns a Writer for topic ("": every message names its topic)
// over the shared Transport, with the settings every producer of the
// exchange needs:
//   - RequiredAcks: RequireAll. kafka-go's default is RequireNone
//     (fire-and-forget); an acknowledged write must be on every in-sync replica.
//   - Async: false. Async writes report errors only to a callback (kafka-go
//     #65, #405, #1181).
//   - AllowAutoTopicCreation: false. Topics are created up front; auto-creation
//     would hide a misrouted topic.
//   - Balancer: kafka.Hash (every key on one partition, so per-key order holds).
//   - BatchTimeout: 2ms. kafka-go's 1 s default would add a second to every
//     synchronous write.
//
// The caller may change its fields (Balancer, BatchSize, BatchBytes,
// BatchTimeout, MaxAttempts, timeouts) before its first use.
func (c *Clients) Writer(topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   c.Addr(),
		Topic:                  topic,
		Transport:              c.transport,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		Async:                  false,
		BatchTimeout:           2 * time.Millisecond,
		AllowAutoTopicCreation: false,
	}
}

// Reader returns a Reader for rc with the builder's Brokers and Dialer (any
// set in rc are replaced). With a GroupID, use FetchMessage and
// CommitMessages, never ReadMessage (it commits before the record is
// processed: kafka-go #626), and keep CommitInterval 0 (>0 only logs
// commit errors).
func (c *Clients) Reader(rc kafka.ReaderConfig) *kafka.Reader {
	rc.Brokers = c.Brokers()
	rc.Dialer = c.Dialer()
	return kafka.NewReader(rc)
}

// ConsumerGroup returns a consumer group for gc with the builder's Brokers
// and Dialer (any set in gc are replaced). kafka-go starts joining in the
// background; errors come out of Next.
func (c *Clients) ConsumerGroup(gc kafka.ConsumerGroupConfig) (*kafka.ConsumerGroup, error) {
	gc.Brokers = c.Brokers()
	gc.Dialer = c.Dialer()
	g, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("consumer group %s: %w", gc.ID, err)
	}
	return g, nil
}

// Admin returns an admin (and metadata, offsets) Client over the shared
// Transport; each request is bounded by AdminTimeout.
func (c *Clients) Admin() *kafka.Client {
	return &kafka.Client{Addr: c.Addr(), Transport: c.transport, Timeout: c.adminTimeout}
}
