// The Worker: its dependencies, construction, readiness and the Run
// lifecycle (waiting for a plan, session restarts, the shutdown drain).

package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
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

// Ledger is what the worker reads of the SQL ledger: before a record at an
// indexed position is processed again, the worker reads the position's
// payload hash (ledger.PositionReader); a different record there halts its
// partition (see positionGuard). The worker does not write the ledger: a
// batch's entries go to the audit topic in the same produce as its
// deliveries, and the indexer (package indexer) builds the SQL ledger from
// that topic.
type Ledger = ledger.PositionReader

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
	// activity is told what each audited batch did; nil: nobody.
	activity ActivityObserver
	// gate is the lifecycle kill switch; nil: the plan's statuses alone.
	gate *Gate
	// index says how far the SQL ledger's index is behind the audit
	// topic; nil: no bound (MaxIndexLag is not enforced).
	index IndexLag

	clients *kafkaclient.Clients // every kafka-go client of the worker
	writer  *kafka.Writer
	// auditTopic receives every batch's ledger entries (names.Audit of
	// the group).
	auditTopic string

	started atomic.Bool // Run was called (a Worker runs once)
	running atomic.Bool
	joined  atomic.Bool // a group generation was joined
	current atomic.Pointer[session]
	paused  atomic.Bool // index past MaxIndexLag: consumption paused

	// ensured holds the topics already created (or found) by this worker.
	ensured map[string]struct{}
	// router routes records; it runs on the consume goroutine only.
	router router
	// keysSet: WithRecordKeys was given (else the router's keys are random).
	keysSet bool
}

// NewWorker checks the configuration and builds a worker and its kafka-go
// clients; it opens no connection (it reads only the TLS files the Kafka
// block names).
func NewWorker(cfg WorkerConfig, plans PlanSource, lg Ledger, opts ...Option) (*Worker, error) {
	if plans == nil {
		return nil, errors.New("new worker: nil plan source")
	}
	if lg == nil {
		return nil, errors.New("new worker: nil ledger")
	}
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	clients, err := kafkaclient.New(cfg.Kafka.Config)
	if err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	w := &Worker{
		router:     newRouter(&cfg),
		cfg:        cfg,
		plans:      plans,
		ledger:     lg,
		log:        slog.Default(),
		tracer:     noop.NewTracerProvider().Tracer(""),
		now:        time.Now,
		ensured:    map[string]struct{}{},
		clients:    clients,
		auditTopic: names.Audit(cfg.Kafka.GroupID),
	}
	for _, o := range opts {
		o(w)
	}
	if w.metrics == nil {
		w.metrics = NewMetrics(nil)
	}
	w.log = w.log.With("component", "worker", "group", cfg.Kafka.GroupID)
	if !w.keysSet {
		w.log.Warn("no record keys given (WithRecordKeys): delivery keys and signatures use random keys of this process only")
	}
	// The builder's writer: key hash (per-key order holds from ingress to
	// delivery), acks from every in-sync replica, synchronous (async writes
	// report errors only to a callback, and we must know before
	// committing), a 2 ms batch timeout, no topic auto-creation (topics are
	// created up front through the same transport, see ensurePlanTopics).
	w.writer = clients.Writer("")
	// One WriteMessages call carries a whole batch; let it go out in as few
	// requests as the byte bound allows. (kafka-go preallocates BatchSize
	// messages per partition batch: keep it near real sizes.)
	w.writer.BatchSize = cfg.MaxBatchRecords
	w.writer.BatchBytes = cfg.ProduceBatchBytes
	// kafka-go's internal retries are short; the worker retries on top with
	// its own backoff and never gives up on a batch.
	w.writer.MaxAttempts = 3
	w.writer.Compression, _ = cfg.compression() // validated above
	w.writer.WriteTimeout = cfg.WriteTimeout
	w.writer.ReadTimeout = cfg.WriteTimeout
	return w, nil
}

// Ready reports whether the worker is consuming: it has joined a group
// generation and is not paused on the index lag. Suitable as a /readyz check.
func (w *Worker) Ready(context.Context) error {
	switch {
	case !w.running.Load():
		return errors.New("worker not running")
	case !w.joined.Load():
		return errors.New("worker has not joined the consumer group yet")
	case w.paused.Load():
		behind, _ := w.index.Behind()
		return fmt.Errorf("worker paused: the audit index is %v behind the audit topic (max_index_lag %v)", behind.Round(time.Second), w.cfg.MaxIndexLag)
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
		w.clients.Close()
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
	if _, ok := w.ensured[w.auditTopic]; !ok {
		if err := EnsureAuditTopic(ctx, w.clients, w.auditTopic, w.cfg.Kafka.Partitions, w.cfg.Kafka.ReplicationFactor); err != nil {
			return err
		}
		w.ensured[w.auditTopic] = struct{}{}
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
	err := EnsureTopics(ctx, w.clients, missing, w.cfg.Kafka.Partitions, w.cfg.Kafka.ReplicationFactor)
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
