package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/schemas"
)

// Connector posts the deliveries of one agreement to one endpoint. Build it
// with New, run it with Run, release it with Close.
type Connector struct {
	cfg     Endpoint
	topic   string
	clients *kafkaclient.Clients
	http    *http.Client
	secret  []byte
	dec     *decoder
	metrics *Metrics
	fails   *failures
	log     *slog.Logger
	now     func() time.Time

	// authorized is false while the brokers deny the consumer the delivery
	// topic or its group (see watchAuthz); nothing is posted meanwhile.
	authorized atomic.Bool
}

// Option configures New.
type Option func(*Connector)

// Logger is where the connector logs (tagged with the agreement). Default
// slog.Default().
func Logger(l *slog.Logger) Option { return func(c *Connector) { c.log = l } }

// WithMetrics shares m (one per process: every endpoint of a process
// registers the same metric names). Default: NewMetrics(nil), unexported.
func WithMetrics(m *Metrics) Option { return func(c *Connector) { c.metrics = m } }

// New validates e (after its defaults), reads its secret and TLS files and
// the Kafka credentials, and returns the connector. It opens no connection.
func New(e Endpoint, opts ...Option) (*Connector, error) {
	e = e.WithDefaults()
	if err := e.Validate(); err != nil {
		return nil, err
	}
	c := &Connector{cfg: e, topic: names.Deliver(e.Consumer, e.Agreement), log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.log = c.log.With("connector", "webhook", "agreement", e.Agreement, "consumer", e.Consumer)
	if c.metrics == nil {
		c.metrics, _ = NewMetrics(nil)
	}
	var err error
	if c.secret, err = readSecret(e.SecretFile); err != nil {
		return nil, fmt.Errorf("%s.%w", e.Name(), err)
	}
	if c.http, err = newHTTPClient(&e); err != nil {
		return nil, err
	}
	regURL, regClient, err := registryClient(&e)
	if err != nil {
		return nil, err
	}
	c.dec = &decoder{registry: regURL, client: regClient, schemas: map[int]*schemas.SchemaVersion{}}
	if c.clients, err = kafkaClients(&e); err != nil {
		return nil, err
	}
	if e.Kafka != nil && e.Kafka.SASL != nil && e.Kafka.SASL.Username != "" && e.Kafka.SASL.Username != e.Consumer {
		// Not an error (a broker may map users to principals), but the
		// consumer's ACLs are granted to User:<consumer>.
		c.log.Warn("the Kafka user is not the consumer agency; its ACLs are granted to User:<consumer>", "user", e.Kafka.SASL.Username)
	}
	c.fails = newFailures(c.metrics, e.Agreement, e.AlertAfter)
	c.setAuthorized(true, nil)
	return c, nil
}

// kafkaClients connects as the consumer agency: the kafka block, or the
// agency's properties file.
func kafkaClients(e *Endpoint) (*kafkaclient.Clients, error) {
	cfg, opts := kafkaclient.Config{}, []kafkaclient.Opt(nil)
	if e.Kafka != nil {
		cfg = *e.Kafka
	} else {
		var o kafkaclient.Opt
		var err error
		if cfg, o, err = kafkaclient.ReadProperties(e.Properties); err != nil {
			return nil, fmt.Errorf("%s.properties: %w", e.Name(), err)
		}
		opts = append(opts, o)
	}
	kc, err := kafkaclient.New(cfg, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s.kafka: %w", e.Name(), err)
	}
	return kc, nil
}

// Close releases the Kafka clients; call it after Run returned.
func (c *Connector) Close() { c.clients.Close() }

// Topic is the delivery topic the connector reads.
func (c *Connector) Topic() string { return c.topic }

// Run joins the consumer group and posts every assigned partition's
// deliveries in order until ctx ends; it returns nil then. Failures of the
// endpoint, the registry or the brokers are retried, never skipped: a
// partition whose delivery fails is held (its lag grows) until the endpoint
// acknowledges it.
func (c *Connector) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	group, err := c.clients.ConsumerGroup(kafka.ConsumerGroupConfig{
		ID:     c.cfg.Group,
		Topics: []string{c.topic},
		// A new group starts at the first delivery: none is skipped.
		StartOffset:            kafka.FirstOffset,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", c.cfg.Name(), err)
	}
	defer closeGroup(group, c.log)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.watchAuthz(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	c.log.Info("webhook started", "topic", c.topic, "group", c.cfg.Group, "endpoint", logURL(c.cfg.URL))
	for ctx.Err() == nil {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			if denied(err) {
				c.setAuthorized(false, err)
			}
			// kafka-go backs off (JoinGroupBackoff) before it tries again.
			c.log.Warn("joining the consumer group failed; retrying", "group", c.cfg.Group, "err", kafkaclient.Explain(err))
			continue
		}
		kafkaclient.RunGeneration(ctx, gen, func(gctx context.Context, topic string, pa kafka.PartitionAssignment) {
			c.partition(gctx, gen, topic, pa)
		})
	}
	return nil
}

// logURL is the endpoint as logs show it: scheme, host and path, without
// a query string or user info that might carry a token.
func logURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// closeGroup leaves the group within 10 s (kafka-go's Close can block on
// an unreachable coordinator).
func closeGroup(g *kafka.ConsumerGroup, log *slog.Logger) {
	done := make(chan error, 1)
	go func() { done <- g.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("leaving the consumer group", "err", err)
		}
	case <-time.After(10 * time.Second):
		log.Warn("leaving the consumer group timed out")
	}
}
