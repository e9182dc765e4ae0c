package indexer

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// batch is the decoded content of consecutive audit messages: one Index
// call and one commit.
type batch struct {
	entries  []ledger.Entry // in message order, so each chain keeps its topic order
	flags    []ledger.Flag  // malformed messages
	last     []kafka.Message
	messages int
}

// add decodes m into b. A value that does not decode becomes a
// FlagMalformed flag: one bad message must not stop the index.
func (b *batch) add(m kafka.Message, now time.Time) {
	b.messages++
	entries, err := ledger.ParseAuditBatch(m.Value)
	if err != nil {
		evidence := m.Value
		if len(evidence) > ledger.MaxFlagBytes {
			evidence = evidence[:ledger.MaxFlagBytes]
		}
		b.flags = append(b.flags, ledger.Flag{
			Reason:    ledger.FlagMalformed,
			Detail:    fmt.Sprintf("audit message %s/%d@%d: %v", m.Topic, m.Partition, m.Offset, err),
			Entry:     evidence,
			FlaggedAt: now,
		})
	} else if b.entries == nil {
		b.entries = entries // the first message's slice: no copy
	} else {
		b.entries = append(b.entries, entries...)
	}
	// Only a partition's last message is committed; its position is all
	// the commit needs.
	pos := kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	for i := range b.last {
		if b.last[i].Partition == m.Partition {
			b.last[i] = pos
			return
		}
	}
	b.last = append(b.last, pos)
}

// size is what counts against MaxBatchEntries.
func (b *batch) size() int { return len(b.entries) + len(b.flags) }

// fetchLoop gathers and decodes batches into out until ctx ends. Fetch
// errors are logged and retried with backoff.
func (ix *Indexer) fetchLoop(ctx context.Context, r *kafka.Reader, out chan<- *batch) {
	for attempt := 0; ; {
		b, err := ix.gather(ctx, r)
		if b != nil {
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
		if err == nil {
			attempt = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		attempt++
		ix.log.Warn("fetching the audit topic failed; retrying", "err", err, "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return
		}
	}
}

// gather waits for an audit message, then takes what follows for up to
// Linger or until the batch holds MaxBatchEntries. It returns the batch
// gathered (nil when none) and the error that ended it, if any.
func (ix *Indexer) gather(ctx context.Context, r *kafka.Reader) (*batch, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	b := &batch{}
	b.add(m, time.Now())
	lctx, cancel := context.WithTimeout(ctx, ix.cfg.Linger)
	defer cancel()
	for b.size() < ix.cfg.MaxBatchEntries {
		m, err := r.FetchMessage(lctx)
		if err != nil {
			if ctx.Err() == nil && lctx.Err() != nil {
				return b, nil // lingered long enough
			}
			return b, err
		}
		b.add(m, time.Now())
	}
	return b, nil
}
