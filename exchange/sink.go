// The sink: produce deliveries, quarantine copies and audit entries with
// retries, then commit; the index lag bound that pauses the worker.

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
)

// produceBatch writes every delivery, quarantine copy and audit message of
// a prepared batch, acknowledged by all in-sync replicas (first step of
// its finish).
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

// commitBatches commits the offsets of a group of produced batches in one
// commit. Their ledger entries were in the same acknowledged produce as
// their deliveries (the audit topic): once produced, a batch is durably
// audited, and the SQL ledger indexes it asynchronously. A failed commit is
// logged and counted: the records are re-processed later, with the same
// delivery ids, and the index keeps one entry each.
func (w *Worker) commitBatches(ctx context.Context, s *session, group []*prepared) {
	failpoint.Hit("after_ledger")
	batches := make([][]fetched, len(group))
	for i, p := range group {
		batches[i] = p.batch
		s.observeLag(p.batch) // before the commit: whoever sees the commit sees the lag
	}
	committed := s.commit(ctx, batches...)
	failpoint.Hit("after_commit")

	w.metrics.commitGroupH.Observe(float64(len(group)))
	for _, p := range group {
		w.observe(p)
		w.metrics.batchSize.Observe(float64(len(p.batch)))
		w.metrics.batchDur.Observe(time.Since(p.start).Seconds())
		p.span.SetAttributes(
			attribute.Int("exchange.messages_out", len(p.msgs)),
			attribute.Int("exchange.commit_group_batches", len(group)),
			attribute.Int("exchange.partitions_committed", committed),
		)
	}
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

// IndexLag tells the worker how far the SQL ledger's index is behind the
// audit topic (indexer.LagWatch implements it): Behind is the age of the
// oldest audit message not indexed yet, ok false while unknown.
type IndexLag interface {
	Behind() (behind time.Duration, ok bool)
}

// awaitIndex returns once the index is at most MaxIndexLag behind the audit
// topic, or ctx's error. Past the bound the worker pauses (fail closed):
// every delivery is durably audited in Kafka either way, but an index that
// falls ever further behind would leave the governance queries and the
// rebuild work unbounded. An unknown lag does not pause: the audit topic,
// not the index, is what a delivery waits for.
func (w *Worker) awaitIndex(ctx context.Context) error {
	if w.index == nil {
		return nil
	}
	defer w.setPaused(false)
	for attempt := 1; ; attempt++ {
		behind, ok := w.index.Behind()
		if !ok || behind <= w.cfg.MaxIndexLag {
			return nil
		}
		if w.setPaused(true) {
			w.log.Error("audit index too far behind the audit topic: consumption paused until it catches up",
				"behind", behind.Round(time.Second), "max_index_lag", w.cfg.MaxIndexLag)
		}
		if !sleepCtx(ctx, min(backoff(attempt), time.Second)) {
			return ctx.Err()
		}
	}
}

// setPaused records whether the worker is paused on the index lag and
// reports whether that changed.
func (w *Worker) setPaused(p bool) bool {
	if !w.paused.CompareAndSwap(!p, p) {
		return false
	}
	w.metrics.setPaused(p)
	return true
}
