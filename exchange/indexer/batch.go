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
	last     []position     // each partition's last message
	messages int
}

// position is a message's place, and the generation it was fetched under.
type position struct {
	gen       *kafka.Generation
	topic     string
	partition int
	offset    int64
}

// add decodes m into b. A value that does not decode becomes a
// FlagMalformed flag: one bad message must not stop the index.
func (b *batch) add(f fetched, now time.Time) {
	m := &f.msg
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
	// Only a partition's last message is committed (messages of a
	// partition arrive in order).
	pos := position{gen: f.gen, topic: m.Topic, partition: m.Partition, offset: m.Offset}
	for i := range b.last {
		if b.last[i].partition == pos.partition && b.last[i].topic == pos.topic && b.last[i].gen == pos.gen {
			b.last[i] = pos
			return
		}
	}
	b.last = append(b.last, pos)
}

// size is what counts against MaxBatchEntries.
func (b *batch) size() int { return len(b.entries) + len(b.flags) }

// fetchLoop gathers and decodes batches from in into out until ctx ends or
// in is closed; it closes out.
func (ix *Indexer) fetchLoop(ctx context.Context, in <-chan fetched, out chan<- *batch) {
	defer close(out)
	for ix.gather(ctx, in, out) {
	}
}

// gather waits for an audit message, then takes what follows into one
// batch and sends it to out: once Linger has passed, as soon as out takes
// it, so the batch grows while the index write before it runs; at
// MaxBatchEntries, when out takes it. It returns false when ctx ended or
// in was closed (a batch gathered by then is still offered to out).
func (ix *Indexer) gather(ctx context.Context, in <-chan fetched, out chan<- *batch) bool {
	var f fetched
	var ok bool
	select {
	case f, ok = <-in:
		if !ok {
			return false
		}
	case <-ctx.Done():
		return false
	}
	b := &batch{}
	b.add(f, time.Now())
	linger := time.NewTimer(ix.cfg.Linger)
	defer linger.Stop()
	var ready chan<- *batch // nil (never ready) until Linger passed
	more := true
	for more && b.size() < ix.cfg.MaxBatchEntries {
		select {
		case f, ok = <-in:
			if !ok {
				more = false
				break
			}
			b.add(f, time.Now())
		case <-linger.C:
			ready = out
		case ready <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	select {
	case out <- b:
		return more
	case <-ctx.Done():
		return false
	}
}
