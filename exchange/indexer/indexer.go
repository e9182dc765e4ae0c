package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/failpoint"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Config configures an Indexer.
type Config struct {
	Kafka kafkaclient.Config
	// Group is the consumer group of the exchange's workers; the indexer's
	// group is names.IndexerGroup(Group). Default names.DefaultGroup.
	Group string
	// MaxBatchEntries bounds the entries of one Index call (a batch ends at
	// the message that reaches it). Default 20000.
	MaxBatchEntries int
	// Linger is how long a batch waits at least for more audit messages
	// once its first one arrived; it keeps growing while the index write
	// before it runs. Default 20ms.
	Linger time.Duration
	// StoreTimeout bounds one Index or RecordFlags call. Default 30s.
	StoreTimeout time.Duration
	// Writers is how many Index calls a batch is split into, run at once,
	// each over its own chains (a chain's entries stay in one call, in
	// order). PostgreSQL locks per chain, so writers on different chains
	// proceed in parallel; SQLite has one writer, so more gain nothing
	// there. Default 1.
	Writers int
	// Consumer group timings; zero: kafka-go's defaults (session 30s,
	// heartbeat 3s, rebalance 30s; the exchange passes its workers'). A
	// member killed without leaving holds its partitions until its session
	// times out.
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	// StallTimeout: a partition reader that waited this long for a
	// message while its partition held more is replaced (see stallWatch).
	// Default 2m; negative disables.
	StallTimeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = names.DefaultGroup
	}
	if c.MaxBatchEntries == 0 {
		c.MaxBatchEntries = 20000
	}
	if c.Linger == 0 {
		c.Linger = 20 * time.Millisecond
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = 30 * time.Second
	}
	if c.Writers == 0 {
		c.Writers = 1
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 2 * time.Minute
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.MaxBatchEntries < 1 {
		errs = append(errs, fmt.Errorf("max batch entries %d: must be positive", c.MaxBatchEntries))
	}
	if c.Writers < 0 || c.Writers > 64 {
		errs = append(errs, fmt.Errorf("writers %d: must be 1 to 64", c.Writers))
	}
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("linger %v: must not be negative", c.Linger))
	}
	if c.SessionTimeout < 0 || c.HeartbeatInterval < 0 || c.RebalanceTimeout < 0 {
		errs = append(errs, fmt.Errorf("group timings (session %v, heartbeat %v, rebalance %v): must not be negative", c.SessionTimeout, c.HeartbeatInterval, c.RebalanceTimeout))
	}
	if c.StoreTimeout < 0 {
		errs = append(errs, fmt.Errorf("store timeout %v: must not be negative", c.StoreTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("indexer config: %w", err)
	}
	return nil
}

// Indexer consumes the audit topic and writes its entries to a ledger.Index.
type Indexer struct {
	cfg     Config
	idx     ledger.Index
	clients *kafkaclient.Clients
	log     *slog.Logger
	metrics *Metrics
	tracer  trace.Tracer

	// fetchHook, when set by a test, fetches in place of the reader.
	fetchHook func(context.Context, *kafka.Reader) (kafka.Message, error)
}

// Option configures an Indexer.
type Option func(*Indexer)

// WithLogger sets the logger (nil: the default). Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(ix *Indexer) {
		if l != nil {
			ix.log = l
		}
	}
}

// WithMetrics sets the metrics (nil: the default). Default: metrics
// registered nowhere.
func WithMetrics(m *Metrics) Option {
	return func(ix *Indexer) {
		if m != nil {
			ix.metrics = m
		}
	}
}

// WithTracerProvider sets where index write spans go (nil: the default).
// Default: a no-op provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(ix *Indexer) {
		if tp != nil {
			ix.tracer = tp.Tracer("github.com/exchange-gov/exchange/exchange/indexer")
		}
	}
}

// WithClients builds the indexer's Kafka clients with c instead of a new
// builder from Config.Kafka (the process shares one; Config.Kafka is then
// not used).
func WithClients(c *kafkaclient.Clients) Option {
	return func(ix *Indexer) {
		if c != nil {
			ix.clients = c
		}
	}
}

// New validates cfg and returns an Indexer writing to idx. It opens no
// connection.
func New(cfg Config, idx ledger.Index, opts ...Option) (*Indexer, error) {
	if idx == nil {
		return nil, errors.New("indexer: no ledger index")
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ix := &Indexer{cfg: cfg, idx: idx, log: slog.Default(), tracer: noop.NewTracerProvider().Tracer("")}
	for _, o := range opts {
		o(ix)
	}
	if ix.metrics == nil {
		ix.metrics = NewMetrics(nil)
	}
	if ix.clients == nil {
		c, err := kafkaclient.New(cfg.Kafka)
		if err != nil {
			return nil, fmt.Errorf("indexer: %w", err)
		}
		ix.clients = c
	}
	return ix, nil
}

// Topic is the audit topic the indexer reads.
func (ix *Indexer) Topic() string { return names.Audit(ix.cfg.Group) }

// Group is the indexer's consumer group.
func (ix *Indexer) Group() string { return names.IndexerGroup(ix.cfg.Group) }

// Run indexes the audit topic until ctx ends, then returns nil. A batch in
// flight when ctx ends is abandoned uncommitted (its Index call, cancelled,
// stores nothing; a completed one is still committed).
func (ix *Indexer) Run(ctx context.Context) error {
	if !ix.awaitTopic(ctx) {
		return nil
	}
	m, err := ix.join()
	if err != nil {
		return err
	}
	// Unbuffered: the next batch grows in gather (decoded as it arrives)
	// until the index write before it returns and takes it.
	batches := make(chan *batch)
	go ix.fetchLoop(ctx, m.out, batches)
	ix.log.Info("audit indexer started", "topic", ix.Topic(), "group", ix.Group())
	for b := range batches {
		if !ix.process(ctx, m, b) {
			break
		}
	}
	// The membership outlives ctx until here, so the last batch's commit
	// went through a live generation.
	m.close(commitTimeout)
	for range batches { // the fetch loop ends with ctx or m.out
	}
	ix.log.Info("audit indexer stopped")
	return nil
}

// awaitTopic returns once the audit topic exists (the workers create it),
// false when ctx ended first. A group joined before its topic exists gets
// no partitions, and kafka-go's partition watch does not notice the topic
// appearing: the indexer would never read it.
func (ix *Indexer) awaitTopic(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		meta, err := ix.clients.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{ix.Topic()}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && len(meta.Topics[0].Partitions) > 0 {
			return true
		}
		if attempt == 1 || attempt%60 == 0 {
			ix.log.Info("waiting for the audit topic to be created by the workers", "topic", ix.Topic())
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return false
		}
	}
}

// process indexes b and commits its offsets; false when ctx ended first.
func (ix *Indexer) process(ctx context.Context, m *membership, b *batch) bool {
	if len(b.flags) > 0 {
		for _, f := range b.flags {
			ix.log.Error("audit message flagged", "reason", f.Reason, "detail", f.Detail)
		}
		if err := ix.retry(ctx, "recording flags", func(c context.Context) error { return ix.idx.RecordFlags(c, b.flags) }); err != nil {
			return false
		}
		ix.metrics.flagged.Add(float64(len(b.flags)))
	}
	if len(b.entries) > 0 {
		res, err := ix.indexAll(ctx, b.entries)
		if err != nil {
			return false
		}
		ix.metrics.stored.Add(float64(res.Stored))
		ix.metrics.duplicates.Add(float64(res.Duplicates))
		ix.metrics.flagged.Add(float64(len(res.Flagged)))
		for _, f := range res.Flagged {
			ix.log.Error("audit entry flagged", "reason", f.Reason, "detail", f.Detail,
				"topic", f.Topic, "partition", f.Partition, "offset", f.Offset)
		}
	}
	failpoint.Hit("after_index")
	m.commit(b)
	ix.metrics.messages.Add(float64(b.messages))
	return true
}

// indexAll writes entries in Writers Index calls at once, each over its
// own chains, and sums their results; an error means ctx ended before all
// of them succeeded (what did succeed is stored, and is counted as
// duplicates when the batch is read again).
func (ix *Indexer) indexAll(ctx context.Context, entries []ledger.Entry) (ledger.IndexResult, error) {
	parts := splitByChain(entries, ix.cfg.Writers)
	if len(parts) == 1 {
		return ix.index(ctx, parts[0])
	}
	results := make([]ledger.IndexResult, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = ix.index(ctx, parts[i])
		}()
	}
	wg.Wait()
	var sum ledger.IndexResult
	for i := range parts {
		if errs[i] != nil {
			return sum, errs[i]
		}
		sum.Stored += results[i].Stored
		sum.Duplicates += results[i].Duplicates
		sum.Flagged = append(sum.Flagged, results[i].Flagged...)
	}
	return sum, nil
}

// splitByChain splits entries into at most n parts, every chain's entries
// in one part, in their order.
func splitByChain(entries []ledger.Entry, n int) [][]ledger.Entry {
	if n <= 1 {
		return [][]ledger.Entry{entries}
	}
	part := map[ledger.Chain]int{}
	parts := make([][]ledger.Entry, 0, n)
	for i := range entries {
		c := ledger.Chain{Topic: entries[i].Topic, Partition: entries[i].Partition}
		k, ok := part[c]
		if !ok {
			k = len(part) % n // chains round-robin over the parts
			part[c] = k
			if k == len(parts) {
				parts = append(parts, make([]ledger.Entry, 0, len(entries)/n+1))
			}
		}
		parts[k] = append(parts[k], entries[i])
	}
	return parts
}

// index writes entries in one Index call, retried until it succeeds or ctx
// ends.
func (ix *Indexer) index(ctx context.Context, entries []ledger.Entry) (ledger.IndexResult, error) {
	ctx, span := ix.tracer.Start(ctx, "indexer.index", trace.WithAttributes(attribute.Int("entries", len(entries))))
	defer span.End()
	var res ledger.IndexResult
	err := ix.retry(ctx, "indexing", func(c context.Context) error {
		start := time.Now()
		var err error
		if res, err = ix.idx.Index(c, entries); err == nil {
			ix.metrics.write.Observe(time.Since(start).Seconds())
		}
		return err
	})
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return res, err
	}
	ix.metrics.batch.Observe(float64(len(entries)))
	span.SetAttributes(attribute.Int("stored", res.Stored), attribute.Int("duplicates", res.Duplicates), attribute.Int("flagged", len(res.Flagged)))
	return res, nil
}

// retry calls f, each call bounded by StoreTimeout, with backoff until it
// returns nil or ctx ends (then ctx's error). Nothing is skipped: the
// index never commits past a write that did not happen.
func (ix *Indexer) retry(ctx context.Context, what string, f func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, ix.cfg.StoreTimeout)
		err := f(cctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				ix.metrics.failing.Set(0)
				ix.log.Info("audit index store writable again", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ix.metrics.failures.Inc()
		ix.metrics.failing.Set(1)
		wait := backoff(attempt)
		ix.log.Warn(what+" failed; retrying", "err", err, "attempt", attempt, "wait", wait)
		if !sleepCtx(ctx, wait) {
			return ctx.Err()
		}
	}
}

// backoff returns the wait before retry attempt n (1-based): 50ms doubling
// to 5s, as the worker's.
func backoff(n int) time.Duration {
	if n > 7 {
		return 5 * time.Second
	}
	return min(50*time.Millisecond<<(n-1), 5*time.Second)
}

// sleepCtx waits d or until ctx ends; it reports whether the full wait elapsed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
