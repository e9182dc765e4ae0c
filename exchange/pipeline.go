// The three-stage pipeline: fetch and decide, produce, commit,
// over consecutive batches whose buffers circulate through a free list.

package exchange

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/exchange/failpoint"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// commitGroup is how many produced batches the commit stage commits at
// once; PipelineDepth of them may wait for it.
const commitGroup = 8

// pipeline is one consume call's state: the batch buffers with their free
// list, and the hand-overs between the stages.
//
// Batch buffers and their decision slots circulate through free: the
// consume goroutine takes one to fill, the commit stage returns it once the
// batch is committed (or abandoned), so a buffer is never reused while a
// stage still reads it.
type pipeline struct {
	w *Worker
	s *session

	bufs  [][]fetched // one per place a batch can be: filling, in the producer, queued for commit, in the commit group
	slots [][]policy.Decision
	free  chan int

	in       chan *prepared // consume → producer stage; closed by stop
	produced chan *prepared // producer → commit stage; closed by the producer
	stageErr chan error     // each stage reports at most once
	stages   sync.WaitGroup
}

// consume runs batches until ctx is cancelled (restart false) or the plan's
// dataset set differs from the session's topics (restart true), or the
// watchdog finds a stalled partition (restart true).
//
// It is a three-stage pipeline: this goroutine fetches and decides the
// next batch while the producer stage writes the one before — its
// deliveries, quarantine copies and audit entries, in one acks=all
// produce — and the commit stage commits earlier ones. Every stage
// handles batches in order, so batches reach Kafka and the commit strictly
// in fetch order (per-key order and positional commits depend on it), and
// a batch is committed only after its own produce, audit entries included.
// The commit stage takes every produced batch that is waiting (up to
// commitGroup) into one commit. When a stage is stuck (Kafka failing, or
// the index past MaxIndexLag: fail closed), the stages before it block on
// their hand-over and fetching stops once the prefetch buffer is full.
func (w *Worker) consume(ctx, procCtx context.Context, s *session) (restart bool, err error) {
	pl := w.newPipeline(s)
	pl.stages.Add(2)
	go pl.produceStage(procCtx)
	go pl.commitStage(procCtx)
	defer func() { restart, err = pl.stop(procCtx, restart, err) }()
	return pl.run(ctx, procCtx)
}

func (w *Worker) newPipeline(s *session) *pipeline {
	nbufs := 1 + 1 + w.cfg.PipelineDepth + commitGroup
	pl := &pipeline{
		w:        w,
		s:        s,
		bufs:     make([][]fetched, nbufs),
		slots:    make([][]policy.Decision, nbufs),
		free:     make(chan int, nbufs),
		in:       make(chan *prepared),
		produced: make(chan *prepared, w.cfg.PipelineDepth),
		stageErr: make(chan error, 2),
	}
	for i := range pl.bufs {
		pl.bufs[i] = make([]fetched, 0, w.cfg.MaxBatchRecords)
		pl.slots[i] = make([]policy.Decision, w.cfg.MaxBatchRecords)
		pl.free <- i
	}
	return pl
}

// produceStage writes each batch handed over on in, then passes it to the
// commit stage. After a failure it only returns the batches' buffers.
func (pl *pipeline) produceStage(procCtx context.Context) {
	defer pl.stages.Done()
	defer close(pl.produced)
	failed := false
	for p := range pl.in {
		if !failed {
			// Fail closed past the index lag bound: nothing more is
			// produced until the index catches up.
			err := pl.w.awaitIndex(procCtx)
			if err == nil {
				err = pl.w.produceBatch(procCtx, p)
			}
			if err == nil {
				pl.produced <- p // the commit stage drains even after a failure
				continue
			}
			pl.stageErr <- err
			failed = true
		}
		p.span.End()
		pl.free <- p.buf
	}
}

// commitStage commits the produced batches, every waiting one (up to
// commitGroup) in one commit, and returns their buffers to the free list.
func (pl *pipeline) commitStage(procCtx context.Context) {
	defer pl.stages.Done()
	group := make([]*prepared, 0, commitGroup)
	for p := range pl.produced {
		group = pl.gather(append(group[:0], p))
		pl.w.commitBatches(procCtx, pl.s, group)
		for _, q := range group {
			q.span.End()
			pl.free <- q.buf
		}
	}
}

// gather adds to group the produced batches already waiting, up to
// commitGroup: they join its commit.
func (pl *pipeline) gather(group []*prepared) []*prepared {
	for len(group) < commitGroup {
		select {
		case q, ok := <-pl.produced:
			if !ok {
				return group
			}
			group = append(group, q)
		default:
			return group
		}
	}
	return group
}

// stop lets the stages finish what they hold (bounded by procCtx), then
// reports the first stage failure in place of run's result.
func (pl *pipeline) stop(procCtx context.Context, restart bool, err error) (bool, error) {
	close(pl.in)
	pl.stages.Wait()
	select {
	case serr := <-pl.stageErr:
		if procCtx.Err() != nil {
			pl.w.log.Warn("shutdown deadline passed: batches in flight abandoned uncommitted")
			return restart, err
		}
		return false, serr
	default:
	}
	return restart, err
}

// run is the first stage: it fills a batch buffer from the session's
// fetched records, decides the batch and hands it to the producer stage,
// until ctx ends, a stage fails, or the session must restart.
func (pl *pipeline) run(ctx, procCtx context.Context) (restart bool, err error) {
	w, s := pl.w, pl.s
	tick := time.NewTicker(w.cfg.PlanCheckInterval)
	defer tick.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	cur := -1 // the buffer being filled
	for {
		if cur < 0 {
			select {
			case cur = <-pl.free:
			case <-ctx.Done():
				return false, nil
			case serr := <-pl.stageErr:
				pl.stageErr <- serr // for stop's report
				return false, nil
			}
		}
		batch := pl.bufs[cur][:0]
		// Wait for a first record, a plan check, or the end.
		select {
		case <-ctx.Done():
			return false, nil
		case serr := <-pl.stageErr:
			pl.stageErr <- serr // for stop's report
			return false, nil
		case <-tick.C:
			if w.idleCheck(ctx, s) {
				return true, nil
			}
			continue
		case f, ok := <-s.fetched:
			if !ok {
				return false, errors.New("fetch loop stopped unexpectedly")
			}
			batch = append(batch, f)
		}
		batch = pl.fill(ctx, batch, linger)
		pl.bufs[cur] = batch
		failpoint.Hit("after_fetch")

		if restart, stop := pl.dispatch(ctx, procCtx, cur, batch); stop {
			return restart, nil
		}
		cur = -1
	}
}

// fill takes the records already fetched, then lingers briefly for more,
// up to MaxBatchRecords.
func (pl *pipeline) fill(ctx context.Context, batch []fetched, linger *time.Timer) []fetched {
	linger.Reset(pl.w.cfg.Linger)
	defer func() {
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
	}()
	for len(batch) < pl.w.cfg.MaxBatchRecords {
		select {
		case f, ok := <-pl.s.fetched:
			if !ok {
				return batch
			}
			batch = append(batch, f)
		case <-linger.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// dispatch decides batch (in buffer cur) on the current plan and hands it
// to the producer stage. stop reports that run must return restart; when
// stop is false the batch was handed over.
func (pl *pipeline) dispatch(ctx, procCtx context.Context, cur int, batch []fetched) (restart, stop bool) {
	w := pl.w
	plan := w.plans.Load()
	if plan == nil {
		// Plans are never unloaded once loaded; should it happen, the
		// fetched records must not be dropped (a later commit would skip
		// them): restart the session from the committed offsets.
		return true, true
	}
	if err := w.ensurePlanTopics(procCtx, plan); err != nil && procCtx.Err() == nil {
		// The sink retries; a missing topic shows as produce errors.
		w.log.Warn("creating topics failed", "err", err)
	}
	if !w.awaitDecide(ctx) {
		return false, true // ctx ended: the batch stays uncommitted
	}
	p := w.prepare(procCtx, plan, batch, pl.slots[cur])
	p.buf = cur
	select {
	case pl.in <- p:
	case serr := <-pl.stageErr:
		pl.stageErr <- serr // for stop's report
		p.span.End()
		return false, true
	case <-ctx.Done():
		// Shutting down: this batch is dropped uncommitted; the ones in
		// the stages finish (stop waits for them).
		p.span.End()
		return false, true
	}
	if ctx.Err() != nil {
		return false, true
	}
	if !slices.Equal(ingressTopics(plan), pl.s.topics) {
		return true, true
	}
	return false, false
}

// awaitDecide returns once a batch may be decided, false when ctx ended
// first. Fail closed, twice: past the index lag bound nothing more is
// decided until the index catches up (checked first and on every turn: a
// database outage can close the gate and then outlast the bound, and the
// pause must show); and with a gate, nothing is decided on agreement
// states older than its bound. It sets the router's gate snapshot.
func (w *Worker) awaitDecide(ctx context.Context) bool {
	for attempt := 1; ; attempt++ {
		if err := w.awaitIndex(ctx); err != nil {
			return false
		}
		if w.gate == nil {
			return true
		}
		if snap := w.gate.current(w.now()); snap != nil {
			w.router.gate = snap
			return true
		}
		if !sleepCtx(ctx, min(backoff(attempt), w.gate.poll)) {
			return false
		}
	}
}

// idleCheck runs every PlanCheckInterval while no record arrives: it
// creates the topics a new plan needs and reports whether the session must
// restart (the plan's dataset set changed, or a partition stalled).
func (w *Worker) idleCheck(ctx context.Context, s *session) (restart bool) {
	plan := w.plans.Load()
	if plan == nil {
		return false
	}
	if err := w.ensurePlanTopics(ctx, plan); err != nil {
		w.log.Warn("creating topics failed; retrying", "err", err)
		return false
	}
	if !slices.Equal(ingressTopics(plan), s.topics) {
		return true
	}
	return w.stallWatch(s)
}

// prepared is a decided batch on its way to the sink: everything to
// produce and append, and the records to commit afterwards.
type prepared struct {
	buf      int             // index of the batch's buffer (consume)
	ctx      context.Context // carries the batch span
	span     trace.Span
	start    time.Time
	now      time.Time
	produced time.Time // its messages were all acknowledged
	batch    []fetched
	results  []recordResult
	msgs     []kafka.Message
	entries  []ledger.Entry
}

// prepare decides every record of batch on plan (read once for the batch).
// decisions are the batch's reusable decision slots.
func (w *Worker) prepare(ctx context.Context, plan *policy.Plan, batch []fetched, decisions []policy.Decision) *prepared {
	p := &prepared{start: time.Now(), now: w.now(), batch: batch}
	p.ctx, p.span = w.tracer.Start(ctx, "exchange.batch", trace.WithAttributes(
		attribute.Int("exchange.records", len(batch)),
		attribute.String("exchange.plan_version", plan.Version()),
	))
	p.results = w.router.routeBatch(plan, batch, p.now, p.span.SpanContext(), decisions)
	p.entries = make([]ledger.Entry, len(batch))
	p.msgs = make([]kafka.Message, 0, len(batch)*2+4)
	for i := range p.results {
		p.msgs = append(p.msgs, p.results[i].out...)
		p.entries[i] = p.results[i].entry
	}
	p.msgs = appendAuditMessages(p.msgs, w.auditTopic, p.entries)
	return p
}
