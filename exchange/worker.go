package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// PlanSource hands out the current compiled plan; plans are immutable and
// swapped atomically (hot reload). *policy.Holder implements it. Load may
// return nil while no plan is loaded: the worker then waits. The worker reads
// the plan once per batch, so a record finishes on the plan it started with.
type PlanSource interface {
	Load() *policy.Plan
}

var _ PlanSource = (*policy.Holder)(nil)

// Ledger is the audit ledger the worker writes before committing offsets.
// Append must return only once the entries are durable, and must be
// idempotent on (Topic, Partition, Offset): records are re-processed after a
// crash or rebalance. An error means "not durable": the worker pauses
// consumption and retries with backoff (fail closed); it never commits
// offsets of records whose entries were not appended. Before a record at an
// audited position is processed again, the worker reads the position's
// payload hash (ledger.PositionReader): a different record there halts its
// partition (see positionGuard).
type Ledger interface {
	Append(ctx context.Context, entries []ledger.Entry) error
	ledger.PositionReader
}

// WorkerConfig configures a Worker. Zero values take the documented defaults.
type WorkerConfig struct {
	// Brokers are the Kafka bootstrap addresses (host:port). Required.
	Brokers []string
	// GroupID is the consumer group shared by all exchange workers. Default "exchange".
	GroupID string

	// Partitions of the topics the worker creates. Default 3.
	Partitions int
	// ReplicationFactor of created topics; 0 means the broker default.
	ReplicationFactor int
	// SkipTopicCreation: the topics exist already (the worker's principal may
	// not create topics). Default false: the worker creates what the plan needs.
	SkipTopicCreation bool

	// MaxBatchRecords bounds one batch (records fetched, processed, produced,
	// audited and committed together). Default 1000.
	MaxBatchRecords int
	// Linger is how long a batch waits for more records after its first one.
	// Default 5ms.
	Linger time.Duration
	// MaxRecordBytes: ingress records whose key plus value is larger are
	// quarantined as size:too_large (the quarantine copy carries no value,
	// and no key over 4 KiB, so it still fits). Default 512 KiB.
	MaxRecordBytes int
	// MaxHeaders and MaxHeaderBytes bound an ingress record's headers (count
	// and total key+value bytes); beyond them the record is quarantined as
	// headers:invalid without its headers. Defaults 64 and 16 KiB.
	MaxHeaders     int
	MaxHeaderBytes int
	// ProduceBatchBytes bounds one produce request per partition; it must stay
	// under the brokers' message.max.bytes (1 MiB by default; kfake refuses
	// more). Default 900 KiB.
	ProduceBatchBytes int64

	// WriteTimeout bounds one produce attempt; a timeout is an unknown
	// outcome and is retried (kafka-go #1427). Default 10s.
	WriteTimeout time.Duration
	// LedgerTimeout bounds one ledger append attempt. Default 10s.
	LedgerTimeout time.Duration
	// CommitTimeout bounds one offset commit, including the final one. Default 10s.
	CommitTimeout time.Duration
	// ShutdownTimeout is how long the batch in flight may take to finish
	// after the run context is cancelled; past it the batch is abandoned
	// uncommitted (it is re-processed by whoever owns the partition next).
	// Default 10s.
	ShutdownTimeout time.Duration
	// PlanCheckInterval: how often an idle worker looks for a new plan
	// (a busy one looks before every batch). Default 1s.
	PlanCheckInterval time.Duration
	// StallTimeout: when a partition had records waiting behind its last
	// processed one and none arrived for this long while the worker was
	// idle, the worker recreates its group membership and partition readers
	// (watchdog for kafka-go readers that stop fetching). Ingress written by
	// transactional producers ends in a commit marker that looks like one
	// waiting record; the watchdog then recreates them once per
	// StallTimeout on an idle topic.
	// Default 2m; negative disables.
	StallTimeout time.Duration

	// Consumer group timings (kafka-go defaults are 30s/3s/30s). Defaults
	// 10s session, 1s heartbeat, 10s rebalance.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// MaxWait bounds one fetch when no data is there (with data it returns at
	// once). kafka-go asks the broker to wait MaxWait minus up to 1 s of
	// round-trip allowance and drops the connection past MaxWait: short values
	// give spurious i/o timeouts and reconnects on a loaded broker. Default 2s.
	MaxWait time.Duration

	// Dialer for the consumer group and its partition readers (TLS, SASL);
	// nil: kafka-go's default.
	Dialer *kafka.Dialer
	// Transport for the writer and topic creation (TLS, SASL); nil: a new
	// kafka.Transport per worker.
	Transport kafka.RoundTripper
}

func (c *WorkerConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.GroupID == "" {
		c.GroupID = names.DefaultGroup
	}
	def(&c.Partitions, 3)
	def(&c.MaxBatchRecords, 1000)
	def(&c.MaxRecordBytes, 512<<10)
	def(&c.MaxHeaders, 64)
	def(&c.MaxHeaderBytes, 16<<10)
	if c.ProduceBatchBytes <= 0 {
		c.ProduceBatchBytes = 900 << 10
	}
	defd(&c.Linger, 5*time.Millisecond)
	defd(&c.WriteTimeout, 10*time.Second)
	defd(&c.LedgerTimeout, 10*time.Second)
	defd(&c.CommitTimeout, 10*time.Second)
	defd(&c.ShutdownTimeout, 10*time.Second)
	defd(&c.PlanCheckInterval, time.Second)
	if c.StallTimeout == 0 {
		c.StallTimeout = 2 * time.Minute
	}
	defd(&c.SessionTimeout, 10*time.Second)
	defd(&c.HeartbeatInterval, time.Second)
	defd(&c.RebalanceTimeout, 10*time.Second)
	defd(&c.MaxWait, 2*time.Second)
}

func (c *WorkerConfig) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("worker config: no brokers")
	}
	if int64(c.MaxRecordBytes)+int64(c.MaxHeaderBytes)+4096 > c.ProduceBatchBytes {
		return fmt.Errorf("worker config: max record bytes %d plus headers %d must fit in produce batch bytes %d",
			c.MaxRecordBytes, c.MaxHeaderBytes, c.ProduceBatchBytes)
	}
	return nil
}

// Option configures a Worker.
type Option func(*Worker)

// WithLogger sets the logger (nil: the default). Default slog.Default().
// Logs carry topics, partitions, offsets, counts and reason codes, never
// record content.
func WithLogger(l *slog.Logger) Option {
	return func(w *Worker) {
		if l != nil {
			w.log = l
		}
	}
}

// WithTracerProvider sets where batch spans go (nil: the default). Default:
// a no-op provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(w *Worker) {
		if tp != nil {
			w.tracer = tp.Tracer("github.com/exchange-gov/exchange/exchange")
		}
	}
}

// WithMetrics sets the metrics (nil: the default). Default: metrics
// registered nowhere.
func WithMetrics(m *Metrics) Option { return func(w *Worker) { w.metrics = m } }

// WithClock sets the clock used for decisions (freshness) and ledger
// decision times (nil: the default). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(w *Worker) {
		if now != nil {
			w.now = now
		}
	}
}

// Worker is one member of the exchange's consumer group: it routes every
// record of the ingress topics it is assigned through the current plan.
//
// Run it once; several workers (in one process or many) with the same
// GroupID split the ingress partitions between them.
type Worker struct {
	cfg     WorkerConfig
	plans   PlanSource
	ledger  Ledger
	log     *slog.Logger
	tracer  trace.Tracer
	metrics *Metrics
	now     func() time.Time

	transport kafka.RoundTripper
	writer    *kafka.Writer

	started atomic.Bool // Run was called (a Worker runs once)
	running atomic.Bool
	joined  atomic.Bool // a group generation was joined
	current atomic.Pointer[session]
	paused  atomic.Bool // ledger failing: consumption paused

	// ensured holds the topics already created (or found) by this worker.
	ensured map[string]struct{}
	// tags caches delivery-id tags; decide runs on the consume goroutine only.
	tags ledger.TagCache
}

// NewWorker checks the configuration and builds a worker; it does no I/O.
func NewWorker(cfg WorkerConfig, plans PlanSource, lg Ledger, opts ...Option) (*Worker, error) {
	if plans == nil {
		return nil, errors.New("new worker: nil plan source")
	}
	if lg == nil {
		return nil, errors.New("new worker: nil ledger")
	}
	cfg.Brokers = slices.Clone(cfg.Brokers)
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Worker{
		tags:    ledger.TagCache{},
		cfg:     cfg,
		plans:   plans,
		ledger:  lg,
		log:     slog.Default(),
		tracer:  noop.NewTracerProvider().Tracer(""),
		now:     time.Now,
		ensured: map[string]struct{}{},
	}
	for _, o := range opts {
		o(w)
	}
	if w.metrics == nil {
		w.metrics = NewMetrics(nil)
	}
	w.log = w.log.With("component", "worker", "group", cfg.GroupID)
	w.transport = cfg.Transport
	if w.transport == nil {
		w.transport = &kafka.Transport{}
	}
	w.writer = &kafka.Writer{
		Addr: kafka.TCP(cfg.Brokers...),
		// Hash keeps every key on one partition of the delivery topic, so
		// per-key order holds from ingress to delivery.
		Balancer: &kafka.Hash{},
		// kafka-go defaults to RequireNone (fire-and-forget): an
		// acknowledged write must be on every in-sync replica.
		RequiredAcks: kafka.RequireAll,
		// Synchronous: async writes report errors only to a callback
		// (kafka-go #65, #405, #1181), and we must know before committing.
		Async: false,
		// The 1 s default would add a second to every batch.
		BatchTimeout: 2 * time.Millisecond,
		// One WriteMessages call carries a whole batch; let it go out in as
		// few requests as the byte bound allows. (kafka-go preallocates
		// BatchSize messages per partition batch: keep it near real sizes.)
		BatchSize:  cfg.MaxBatchRecords,
		BatchBytes: cfg.ProduceBatchBytes,
		// Topics are created up front through the same transport (see
		// ensureTopics); auto-creation would hide a misrouted topic.
		AllowAutoTopicCreation: false,
		// kafka-go's internal retries are short; the worker retries on top
		// with its own backoff and never gives up on a batch.
		MaxAttempts:  3,
		WriteTimeout: cfg.WriteTimeout,
		ReadTimeout:  cfg.WriteTimeout,
		Transport:    w.transport,
	}
	return w, nil
}

// Ready reports whether the worker is consuming: it has joined a group
// generation and is not paused on ledger failures. Suitable as a /readyz check.
func (w *Worker) Ready(context.Context) error {
	switch {
	case !w.running.Load():
		return errors.New("worker not running")
	case !w.joined.Load():
		return errors.New("worker has not joined the consumer group yet")
	case w.paused.Load():
		return errors.New("worker paused: ledger unavailable")
	}
	return nil
}

// Run consumes until ctx is cancelled, then drains: it stops fetching,
// finishes the batch in flight within ShutdownTimeout (or abandons it
// uncommitted), makes the final commit with its own context, leaves the
// consumer group and closes the writer. It returns nil after a drain caused
// by ctx, and an error when something fatal happened (a Worker runs once).
//
// Plan reload: before every batch (and every PlanCheckInterval when idle)
// the worker reads the current plan. When the plan changed, the topics it
// needs are created first. When its set of datasets changed, the worker
// finishes and commits the batch in flight, leaves the group (closing its
// kafka.ConsumerGroup and partition readers), and joins it again with a new
// kafka.ConsumerGroup over the new ingress topics, which triggers a
// rebalance. Every worker of the group sees the same plan source, so all of
// them converge on the same subscription.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("worker: Run called twice")
	}
	w.running.Store(true)
	defer w.running.Store(false)
	defer func() {
		// Only after every WriteMessages returned: Close during a write
		// can hang (kafka-go #1307, #1099).
		if err := w.writer.Close(); err != nil {
			w.log.Warn("closing writer", "err", err)
		}
		if t, ok := w.transport.(*kafka.Transport); ok && w.cfg.Transport == nil {
			t.CloseIdleConnections()
		}
	}()

	// procCtx bounds work on a batch: it outlives ctx by ShutdownTimeout so
	// the batch in flight can finish after a shutdown request.
	procCtx, cancelProc := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProc()
	stopDrainTimer := context.AfterFunc(ctx, func() {
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelProc()
		case <-procCtx.Done():
		}
	})
	defer stopDrainTimer()

	for {
		plan, err := w.waitPlan(ctx)
		if err != nil {
			return nil // ctx cancelled while waiting: nothing in flight
		}
		topics := ingressTopics(plan)
		s, err := w.newSession(topics)
		if err != nil {
			return err
		}
		w.current.Store(s)
		restart, err := w.consume(ctx, procCtx, s)
		s.close(w.cfg.ShutdownTimeout)
		if err != nil {
			return err
		}
		if !restart {
			return nil
		}
		w.metrics.restarts.Inc()
		w.log.Info("recreating reader", "topics", ingressTopics(w.plans.Load()))
	}
}

// waitPlan returns the current plan once there is one with at least one
// dataset whose topics exist, or an error when ctx ends first.
func (w *Worker) waitPlan(ctx context.Context) (*policy.Plan, error) {
	t := time.NewTicker(w.cfg.PlanCheckInterval)
	defer t.Stop()
	attempt := 0
	for {
		plan := w.plans.Load()
		if plan != nil && len(plan.Datasets()) > 0 {
			if err := w.ensurePlanTopics(ctx, plan); err == nil {
				return plan, nil
			} else if ctx.Err() == nil {
				attempt++
				w.log.Warn("creating topics failed; retrying", "err", err, "attempt", attempt)
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// ensurePlanTopics creates the topics of plan not created yet by this worker.
func (w *Worker) ensurePlanTopics(ctx context.Context, plan *policy.Plan) error {
	if w.cfg.SkipTopicCreation {
		return nil
	}
	var missing []string
	for _, t := range Topics(plan) {
		if _, ok := w.ensured[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// Through the writer's transport: kafka-go refreshes that transport's
	// metadata after CreateTopics, so the writer sees the topics at once.
	err := ensureTopics(ctx, w.cfg.Brokers, missing, w.cfg.Partitions,
		TopicOptions{ReplicationFactor: w.cfg.ReplicationFactor, Transport: w.transport})
	if err != nil {
		return err
	}
	for _, t := range missing {
		w.ensured[t] = struct{}{}
	}
	w.log.Info("topics ensured", "topics", missing)
	return nil
}

// backoff returns the wait before retry attempt n (1-based): 50ms doubling
// to 5s.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
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

// session is one membership of the consumer group over a fixed set of
// ingress topics: a kafka.ConsumerGroup, and for each generation it joins one
// fetcher per assigned partition, all feeding one channel.
//
// Why kafka.ConsumerGroup and not the group kafka.Reader: the Reader queues
// CommitMessages on a channel that outlives generations, so a commit made
// for records of one generation can be taken by the next generation's commit
// loop and sent under the new generation id, after the partition's new owner
// committed further: the group's committed offset goes backwards (kafka-go
// #1308; found by exchange/faults TestRebalanceStorm with a member stopped
// past its session timeout between its ledger append and its commit). Here
// every fetched record carries the *kafka.Generation it was fetched under,
// and is committed only through that generation's CommitOffsets, which sends
// that generation's id and member id: once the generation is over, the
// broker refuses it (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// REBALANCE_IN_PROGRESS) or kafka-go fails it on the generation's closed
// coordinator connection. A stale commit cannot land.
type session struct {
	w       *Worker
	topics  []string
	group   *kafka.ConsumerGroup
	fetched chan fetched
	cancel  context.CancelFunc
	done    chan struct{}

	// cur is the latest generation joined (nil before the first). Only
	// records fetched under it are committed (see commit).
	cur atomic.Pointer[kafka.Generation]

	// lag is each partition's distance to its high-water mark as of its
	// last processed record, for the generation lagGen.
	lagMu       sync.Mutex
	lag         map[topicPartition]partitionLag
	lagGen      *kafka.Generation
	lastObserve time.Time
	halted      map[topicPartition]bool // by checkPosition, in any generation
}

type partitionLag struct {
	lag  int64
	seen time.Time // when the partition's last record was processed
}

type topicPartition struct {
	topic     string
	partition int
}

// observeLag updates the consumer-lag gauge from a processed batch: the
// sum over partitions of high-water mark minus next offset. Partitions of
// an earlier generation are forgotten (they may belong to another member).
func (s *session) observeLag(batch []fetched) {
	gen := s.cur.Load()
	now := time.Now()
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	if s.lag == nil || s.lagGen != gen {
		s.lag, s.lagGen = map[topicPartition]partitionLag{}, gen
	}
	if t := s.w.cfg.StallTimeout; t > 0 && now.Sub(s.lastObserve) > t/2 {
		// The pipeline itself was held up (ledger or produce retries, a
		// long batch): no partition could progress; restart their clocks.
		for tp, l := range s.lag {
			l.seen = now
			s.lag[tp] = l
		}
	}
	s.lastObserve = now
	for i := range batch {
		f := &batch[i]
		tp := topicPartition{f.msg.Topic, f.msg.Partition}
		if f.gen != gen || s.halted[tp] {
			continue
		}
		s.lag[tp] = partitionLag{lag: max(0, f.msg.HighWaterMark-f.msg.Offset-1), seen: now}
	}
	var sum int64
	for _, l := range s.lag {
		sum += l.lag
	}
	s.w.metrics.setLag(s, sum)
}

// stalled returns a partition that had records waiting behind its last
// processed one but delivered nothing for timeout, if any. The caller asks
// only while the pipeline is idle: a paused worker (ledger down) is not
// stalled. It is the watchdog for kafka-go partition readers that stop
// delivering (kafka-go #387, #955, #1150, and the i/o-timeout loops seen
// with a short MaxWait).
func (s *session) stalled(now time.Time, timeout time.Duration) (topicPartition, bool) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	if s.lagGen != s.cur.Load() {
		return topicPartition{}, false
	}
	for tp, l := range s.lag {
		if l.lag > 0 && now.Sub(l.seen) > timeout {
			return tp, true
		}
	}
	return topicPartition{}, false
}

// fetched is one record with the generation it was fetched under.
type fetched struct {
	msg kafka.Message
	gen *kafka.Generation
	at  time.Time
}

func (w *Worker) newSession(topics []string) (*session, error) {
	s := &session{w: w, topics: topics, done: make(chan struct{})}
	gc := kafka.ConsumerGroupConfig{
		ID:      w.cfg.GroupID,
		Brokers: w.cfg.Brokers,
		Dialer:  w.cfg.Dialer,
		Topics:  topics,
		// A new group starts at the beginning: nothing published before the
		// exchange first ran is skipped.
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    w.cfg.SessionTimeout,
		HeartbeatInterval: w.cfg.HeartbeatInterval,
		RebalanceTimeout:  w.cfg.RebalanceTimeout,
		// New partitions of an ingress topic end the generation; the next
		// one assigns them.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		Logger:                 kafkaLogger{log: w.log},
		ErrorLogger:            kafkaErrorLogger{log: w.log},
	}
	// NewConsumerGroup validates the config and starts joining in the
	// background; errors come out of Next.
	g, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("consumer group config: %w", err)
	}
	s.group = g
	s.fetched = make(chan fetched, w.cfg.MaxBatchRecords)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.run(ctx)
	return s, nil
}

// run joins generation after generation until ctx ends. For each, it starts
// one fetcher per assigned partition through gen.Start (kafka-go waits for
// them before it joins the next generation) and waits until the generation
// is over and every fetcher has returned, so every record of a generation is
// in s.fetched before any record of the next one. It closes s.fetched and
// s.done when it returns.
func (s *session) run(ctx context.Context) {
	defer close(s.done)
	defer close(s.fetched)
	attempt := 0
	for ctx.Err() == nil {
		gen, err := s.group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			// kafka-go backs off (JoinGroupBackoff) before it tries again.
			attempt++
			s.w.log.Warn("joining the consumer group failed; retrying", "err", err, "attempt", attempt)
			continue
		}
		attempt = 0
		s.cur.Store(gen)
		s.w.joined.Store(true)
		s.w.metrics.generations.Inc()
		partitions := 0
		for _, pas := range gen.Assignments {
			partitions += len(pas)
		}
		s.w.log.Info("joined group generation", "generation", gen.ID, "member", gen.MemberID, "partitions", partitions)

		var fetchers sync.WaitGroup
		for topic, pas := range gen.Assignments {
			for _, pa := range pas {
				fetchers.Add(1)
				gen.Start(func(gctx context.Context) {
					defer fetchers.Done()
					s.fetchPartition(gctx, gen, topic, pa)
				})
			}
		}
		// Returns when the generation ends (heartbeat refused, partition
		// change, a fetcher gone) or the session closes; returning ends the
		// generation in the latter case.
		ended := make(chan struct{})
		gen.Start(func(gctx context.Context) {
			defer close(ended)
			select {
			case <-gctx.Done():
			case <-ctx.Done():
			}
		})
		<-ended
		fetchers.Wait()
	}
}

// fetchPartition fetches one assigned partition for the generation gen from
// the offset the group had committed when gen began, tagging each record
// with gen, until gen ends. It is the only caller of its reader's
// FetchMessage. A partition reader has no group: the group is gen's, and
// commits go only through gen.CommitOffsets (see session.commit), never
// through a reader's shared commit queue (kafka-go #1308), and never before
// the record is processed as ReadMessage with a GroupID would (kafka-go
// #626, #455, #1179). Returning before gctx ends would end the generation,
// so errors are retried.
func (s *session) fetchPartition(gctx context.Context, gen *kafka.Generation, topic string, pa kafka.PartitionAssignment) {
	w := s.w
	if gctx.Err() != nil {
		return // started after the generation ended
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   w.cfg.Brokers,
		Topic:     topic,
		Partition: pa.ID,
		Dialer:    w.cfg.Dialer,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   w.cfg.MaxWait,
		// Read ahead up to one batch of this partition (at most 1000 records).
		QueueCapacity:   min(w.cfg.MaxBatchRecords, 1000),
		ReadLagInterval: -1,
		ReadBackoffMin:  50 * time.Millisecond,
		ReadBackoffMax:  time.Second,
		Logger:          kafkaLogger{log: w.log},
		ErrorLogger:     kafkaErrorLogger{log: w.log},
	})
	// Close waits for the reader's goroutines; kafka-go waits for this
	// function before the member joins the next generation.
	defer r.Close()
	// The assignment's offset is the group's committed offset (the next
	// record to read), or kafka-go's StartOffset sentinel (FirstOffset, -2)
	// when none was committed; a partition reader takes both as they are.
	start := pa.Offset
	if start < 0 && start != kafka.FirstOffset && start != kafka.LastOffset {
		start = kafka.FirstOffset
	}
	if err := r.SetOffset(start); err != nil {
		w.log.Warn("setting the fetch offset failed", "topic", topic, "partition", pa.ID, "offset", start, "err", err)
	}
	guard := newPositionGuard(w.ledger, topic, pa.ID)
	attempt := 0
	for {
		m, err := r.FetchMessage(gctx)
		if err != nil {
			if gctx.Err() != nil {
				return
			}
			attempt++
			w.log.Warn("fetch failed; retrying", "topic", topic, "partition", pa.ID, "err", err, "attempt", attempt)
			if !sleepCtx(gctx, backoff(attempt)) {
				return
			}
			continue
		}
		attempt = 0
		if !s.checkPosition(gctx, guard, m) {
			return
		}
		f := fetched{msg: m, gen: gen, at: time.Now()}
		if gctx.Err() != nil {
			return
		}
		select {
		case s.fetched <- f:
		case <-gctx.Done():
			return
		}
	}
}

// checkPosition holds m until guard has checked its position, retrying
// store errors with backoff (fail closed). It returns true when m may be
// processed, false when the generation ended. A record reusing an audited
// position halts the partition for this generation: nothing more of it is
// fetched, processed or committed; the next generation checks again.
func (s *session) checkPosition(gctx context.Context, guard *positionGuard, m kafka.Message) bool {
	w := s.w
	for attempt := 1; ; attempt++ {
		err := guard.check(gctx, m.Offset, m.Value)
		switch {
		case err == nil:
			return true
		case gctx.Err() != nil:
			return false
		case errors.Is(err, ledger.ErrPositionReused):
			s.halt(topicPartition{m.Topic, m.Partition})
			w.metrics.halted.WithLabelValues(m.Topic).Inc()
			w.log.Error("partition halted: a record reuses a source position the ledger audited for another record; nothing more of this partition is delivered or committed until an operator moves the group's offset past the ledger's highest offset of the partition (README, \"Recreated ingress topics\")",
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "highest_audited_offset", guard.highest, "err", err)
			<-gctx.Done()
			w.metrics.halted.WithLabelValues(m.Topic).Dec()
			return false
		}
		w.log.Warn("reading the ledger's entries at re-processed positions failed; holding the partition and retrying",
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err, "attempt", attempt)
		if !sleepCtx(gctx, backoff(attempt)) {
			return false
		}
	}
}

// halt takes a halted partition out of the stall watchdog's view: it has
// records waiting on purpose.
func (s *session) halt(tp topicPartition) {
	s.lagMu.Lock()
	defer s.lagMu.Unlock()
	if s.halted == nil {
		s.halted = map[topicPartition]bool{}
	}
	s.halted[tp] = true
	delete(s.lag, tp)
}

// close stops fetching and leaves the group within timeout (kafka-go's
// Close leaves the group and can block on an unreachable coordinator).
func (s *session) close(timeout time.Duration) {
	s.cancel()
	closed := make(chan error, 1)
	go func() {
		<-s.done
		closed <- s.group.Close()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-closed:
		if err != nil {
			s.w.log.Warn("leaving the consumer group", "err", err)
		}
	case <-t.C:
		s.w.log.Warn("leaving the consumer group timed out", "timeout", timeout)
	}
	s.w.metrics.dropLag(s)
}

// producedQueue batches may wait for the audit stage, which appends up to
// auditGroup of them at once.
const (
	producedQueue = 7
	auditGroup    = 8
)

// consume runs batches until ctx is cancelled (restart false) or the plan's
// dataset set differs from the session's topics (restart true), or the
// watchdog finds a stalled partition (restart true).
//
// It is a three-stage pipeline: this goroutine fetches and decides the
// next batch while the producer stage writes the one before and the audit
// stage appends earlier ones to the ledger and commits them. Every stage
// handles batches in order, so batches reach Kafka, the ledger and the
// commit strictly in fetch order (per-key order and positional commits
// depend on it), and a batch is committed only after its own produce and
// ledger append. The audit stage takes every produced batch that is
// waiting (up to auditGroup) into one ledger append and one commit — a
// group commit: when the ledger is the slowest stage, its fixed cost per
// transaction is shared by more records, while Kafka still sees batches of
// MaxBatchRecords. When a stage is stuck (ledger down: fail closed), the
// stages before it block on their hand-over and fetching stops once the
// prefetch buffer is full; at most producedQueue+auditGroup+1 batches are
// then produced and not yet audited (they are audited when the ledger
// returns, or re-processed).
func (w *Worker) consume(ctx, procCtx context.Context, s *session) (restart bool, err error) {
	// Batch buffers and their decision slots circulate through free: this
	// goroutine takes one to fill, the audit stage returns it once the
	// batch is audited (or abandoned), so a buffer is never reused while a
	// stage still reads it. One per place a batch can be: filling, in the
	// producer, queued for audit, in the audit group.
	const nbufs = 1 + 1 + producedQueue + auditGroup
	var (
		bufs  [nbufs][]fetched
		slots [nbufs][]policy.Decision
	)
	free := make(chan int, nbufs)
	for i := range bufs {
		bufs[i] = make([]fetched, 0, w.cfg.MaxBatchRecords)
		slots[i] = make([]policy.Decision, w.cfg.MaxBatchRecords)
		free <- i
	}
	in := make(chan *prepared)
	produced := make(chan *prepared, producedQueue)
	stageErr := make(chan error, 2) // each stage reports at most once
	var stages sync.WaitGroup
	stages.Add(2)
	go func() { // producer stage
		defer stages.Done()
		defer close(produced)
		failed := false
		for p := range in {
			if !failed {
				// Fail closed: while the ledger cannot be written, nothing
				// more is produced (the audit stage retries what it holds).
				err := w.awaitLedger(procCtx)
				if err == nil {
					err = w.produceBatch(procCtx, p)
				}
				if err == nil {
					produced <- p // the audit stage drains even after a failure
					continue
				}
				stageErr <- err
				failed = true
			}
			p.span.End()
			free <- p.buf
		}
	}()
	go func() { // audit stage
		defer stages.Done()
		failed := false
		group := make([]*prepared, 0, auditGroup)
		for p := range produced {
			group = append(group[:0], p)
		take: // the batches already waiting join this append
			for len(group) < auditGroup {
				select {
				case q, ok := <-produced:
					if !ok {
						break take
					}
					group = append(group, q)
				default:
					break take
				}
			}
			if !failed {
				if err := w.auditBatches(procCtx, s, group); err != nil {
					stageErr <- err
					failed = true
				}
			}
			for _, q := range group {
				q.span.End()
				free <- q.buf
			}
		}
	}()
	defer func() {
		// Let the stages finish what they hold (bounded by procCtx), then
		// report the first stage failure.
		close(in)
		stages.Wait()
		select {
		case serr := <-stageErr:
			if procCtx.Err() != nil {
				w.log.Warn("shutdown deadline passed: batches in flight abandoned uncommitted")
				return
			}
			restart, err = false, serr
		default:
		}
	}()

	tick := time.NewTicker(w.cfg.PlanCheckInterval)
	defer tick.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	cur := -1 // the buffer being filled
	for {
		if cur < 0 {
			select {
			case cur = <-free:
			case <-ctx.Done():
				return false, nil
			case serr := <-stageErr:
				stageErr <- serr // for the deferred report
				return false, nil
			}
		}
		batch := bufs[cur][:0]
		// Wait for a first record, a plan check, or the end.
		select {
		case <-ctx.Done():
			return false, nil
		case serr := <-stageErr:
			stageErr <- serr // for the deferred report
			return false, nil
		case <-tick.C:
			plan := w.plans.Load()
			if plan == nil {
				continue
			}
			if err := w.ensurePlanTopics(ctx, plan); err != nil {
				w.log.Warn("creating topics failed; retrying", "err", err)
				continue
			}
			if !slices.Equal(ingressTopics(plan), s.topics) {
				return true, nil
			}
			if w.cfg.StallTimeout > 0 {
				if tp, ok := s.stalled(time.Now(), w.cfg.StallTimeout); ok {
					w.metrics.stalls.Inc()
					w.log.Warn("partition stalled with records waiting: recreating reader",
						"topic", tp.topic, "partition", tp.partition, "after", w.cfg.StallTimeout)
					return true, nil
				}
			}
			continue
		case f, ok := <-s.fetched:
			if !ok {
				return false, errors.New("fetch loop stopped unexpectedly")
			}
			batch = append(batch, f)
		}
		// Take what is already there, then linger briefly for more.
		linger.Reset(w.cfg.Linger)
	fill:
		for len(batch) < w.cfg.MaxBatchRecords {
			select {
			case f, ok := <-s.fetched:
				if !ok {
					break fill
				}
				batch = append(batch, f)
			case <-linger.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		bufs[cur] = batch
		failpoint("after_fetch")

		plan := w.plans.Load()
		if plan == nil {
			// Plans are never unloaded once loaded; should it happen, the
			// fetched records must not be dropped (a later commit would skip
			// them): restart the session from the committed offsets.
			return true, nil
		}
		if err := w.ensurePlanTopics(procCtx, plan); err != nil && procCtx.Err() == nil {
			// The sink retries; a missing topic shows as produce errors.
			w.log.Warn("creating topics failed", "err", err)
		}
		p := w.prepare(procCtx, plan, batch, slots[cur])
		p.buf = cur
		select {
		case in <- p:
			cur = -1
		case serr := <-stageErr:
			stageErr <- serr // for the deferred report
			p.span.End()
			return false, nil
		case <-ctx.Done():
			// Shutting down: this batch is dropped uncommitted; the ones in
			// the stages finish (deferred wait).
			p.span.End()
			return false, nil
		}
		if ctx.Err() != nil {
			return false, nil
		}
		if !slices.Equal(ingressTopics(plan), s.topics) {
			return true, nil
		}
	}
}
