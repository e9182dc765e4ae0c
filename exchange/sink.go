// The sink: produce deliveries and quarantine copies with retries, append
// the ledger (fail closed), and the audit step that precedes each commit.

package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/exchange/failpoint"
	"github.com/exchange-gov/exchange/exchange/ledger"
)

// produceBatch writes every delivery and quarantine copy of a prepared
// batch, acknowledged by all in-sync replicas (first step of its finish).
func (w *Worker) produceBatch(ctx context.Context, p *prepared) error {
	ctx = trace.ContextWithSpan(ctx, p.span)
	if err := w.produce(ctx, p.msgs); err != nil {
		p.span.SetStatus(codes.Error, "produce abandoned")
		return fmt.Errorf("producing %d messages: %w", len(p.msgs), err)
	}
	p.produced = time.Now()
	failpoint.Hit("after_produce")
	return nil
}

// auditBatches appends the ledger entries of a group of produced batches
// in one append and only then commits their offsets in one commit. A failed
// commit is logged and counted: the records are re-processed later, with
// the same delivery ids, and the ledger keeps one entry each. Returns an
// error only when the ledger append is abandoned (ctx ended): nothing of
// the group is committed then.
func (w *Worker) auditBatches(ctx context.Context, s *session, group []*prepared) error {
	entries := group[0].entries
	if len(group) > 1 {
		n := 0
		for _, p := range group {
			n += len(p.entries)
		}
		entries = make([]ledger.Entry, 0, n)
		for _, p := range group {
			entries = append(entries, p.entries...)
		}
	}
	// The append is traced under the group's first batch.
	actx := trace.ContextWithSpan(ctx, group[0].span)
	if err := w.appendLedger(actx, entries); err != nil {
		for _, p := range group {
			p.span.SetStatus(codes.Error, "ledger append abandoned")
		}
		return fmt.Errorf("appending %d ledger entries: %w", len(entries), err)
	}
	failpoint.Hit("after_ledger")
	batches := make([][]fetched, len(group))
	for i, p := range group {
		batches[i] = p.batch
		s.observeLag(p.batch) // before the commit: whoever sees the commit sees the lag
	}
	committed := s.commit(ctx, batches...)
	failpoint.Hit("after_commit")

	w.metrics.ledgerGroup.Observe(float64(len(group)))
	for _, p := range group {
		w.observe(p)
		w.metrics.batchSize.Observe(float64(len(p.batch)))
		w.metrics.batchDur.Observe(time.Since(p.start).Seconds())
		p.span.SetAttributes(
			attribute.Int("exchange.messages_out", len(p.msgs)),
			attribute.Int("exchange.ledger_group_batches", len(group)),
			attribute.Int("exchange.partitions_committed", committed),
		)
	}
	return nil
}

// produce writes msgs synchronously, retrying failed ones with backoff until
// all are acknowledged or ctx ends. It never gives up on its own: a record
// that cannot be written blocks its batch (and so its partition), it is
// never skipped.
func (w *Worker) produce(ctx context.Context, msgs []kafka.Message) error {
	pending := msgs
	for attempt := 1; len(pending) > 0; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		err := w.writer.WriteMessages(actx, pending...)
		cancel()
		if err == nil {
			return nil
		}
		// WriteMessages is not atomic (kafka-go #777, #1152): WriteErrors
		// says which messages failed; retry only those. Any other error,
		// including a deadline, is an unknown outcome for all (kafka-go
		// #1427): retry all; duplicates carry the same delivery id.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			failed := make([]kafka.Message, 0, werrs.Count())
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, pending[i])
				}
			}
			pending = failed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.metrics.produceRetr.Inc()
		w.log.Warn("produce failed; retrying", "err", err, "messages", len(pending), "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
	return nil
}

// awaitLedger returns once the ledger is not failing (appendLedger clears
// w.paused on its next success), or ctx's error.
func (w *Worker) awaitLedger(ctx context.Context) error {
	for w.paused.Load() {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// appendLedger appends entries, retrying with backoff until it succeeds or
// ctx ends. While it fails, consumption is paused (fail closed): no further
// batch is processed and nothing is committed.
func (w *Worker) appendLedger(ctx context.Context, entries []ledger.Entry) error {
	defer func() {
		if w.paused.CompareAndSwap(true, false) {
			w.metrics.setPaused(false)
		}
	}()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.cfg.LedgerTimeout)
		err := w.ledger.Append(actx, entries)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.paused.CompareAndSwap(false, true) {
			w.metrics.setPaused(true)
		}
		w.metrics.ledgerRetr.Inc()
		w.log.Error("ledger append failed: consumption paused; retrying", "err", err, "entries", len(entries), "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}
