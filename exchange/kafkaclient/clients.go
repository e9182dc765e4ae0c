package kafkaclient

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
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

// WithTransport makes Writers and admin Clients use rt, which the caller
// owns (Close leaves it open) and configures (Config's TLS and client id do
// not apply to it). Default: a new kafka.Transport from Config, closed by
// Close. Tests use it to share one metadata cache between their own
// clients and the code under test.
func WithTransport(rt kafka.RoundTripper) Opt {
	return opt(func(c *Clients) { c.transport = rt })
}

// New validates cfg, loads its TLS files and returns the builder. It opens
// no connection.
func New(cfg Config, opts ...Opt) (*Clients, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Brokers = slices.Clone(cfg.Brokers)
	c := &Clients{cfg: cfg, dialTimeout: 10 * time.Second, adminTimeout: 30 * time.Second}
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
	if c.transport == nil {
		c.transport = &kafka.Transport{ClientID: cfg.ClientID, TLS: c.tls}
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

// Dialer returns a new Dialer for Readers and consumer groups (TLS, client
// id, DialTimeout).
func (c *Clients) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: c.dialTimeout, DualStack: true, ClientID: c.cfg.ClientID, TLS: c.tls}
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
