// Partition fetch: one reader per assigned partition of a generation, and
// the position check that holds or halts a partition before its records
// are processed.

package exchange

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// fetched is one record with the generation it was fetched under.
type fetched struct {
	msg kafka.Message
	gen *kafka.Generation
	at  time.Time
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
	r := w.clients.Reader(kafka.ReaderConfig{
		Topic:     topic,
		Partition: pa.ID,
		MinBytes:  w.cfg.FetchMinBytes,
		MaxBytes:  w.cfg.FetchMaxBytes,
		MaxWait:   w.cfg.FetchMaxWait,
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
