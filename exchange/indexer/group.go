// The indexer's consumer group membership: per generation one partition
// reader per assigned audit partition, and the generation-bound commit.

package indexer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// fetched is one audit message and the generation it was fetched under.
type fetched struct {
	msg kafka.Message
	gen *kafka.Generation
}

// membership is the indexer's member of its consumer group. Why
// kafka.ConsumerGroup and not the group kafka.Reader: the Reader's commit
// queue outlives generations, so a commit of one generation can be sent
// under the next after the partition's new owner committed further, and the
// group's offset goes backwards (kafka-go #1308, see exchange/session.go).
// Here a message is committed only through the generation it was fetched
// under, and only while that generation is the member's current one.
type membership struct {
	ix     *Indexer
	group  *kafka.ConsumerGroup
	out    chan fetched
	cur    atomic.Pointer[kafka.Generation]
	cancel context.CancelFunc
	done   chan struct{}
}

// join creates the consumer group and starts joining it in the background.
// A new group starts at the first offset: the index must hold everything
// ever written.
func (ix *Indexer) join() (*membership, error) {
	g, err := ix.clients.ConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                     ix.Group(),
		Topics:                 []string{ix.Topic()},
		StartOffset:            kafka.FirstOffset,
		SessionTimeout:         ix.cfg.SessionTimeout,
		HeartbeatInterval:      ix.cfg.HeartbeatInterval,
		RebalanceTimeout:       ix.cfg.RebalanceTimeout,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		Logger:                 kafka.LoggerFunc(ix.kafkaDebug),
		ErrorLogger:            kafka.LoggerFunc(ix.kafkaWarn),
	})
	if err != nil {
		return nil, fmt.Errorf("indexer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &membership{ix: ix, group: g, out: make(chan fetched, 4096), cancel: cancel, done: make(chan struct{})}
	go m.run(ctx)
	return m, nil
}

func (ix *Indexer) kafkaDebug(f string, a ...any) { ix.log.Debug("kafka: " + fmt.Sprintf(f, a...)) }
func (ix *Indexer) kafkaWarn(f string, a ...any)  { ix.log.Warn("kafka: " + fmt.Sprintf(f, a...)) }

// run joins generation after generation until ctx ends; it closes m.out
// and m.done when it returns.
func (m *membership) run(ctx context.Context) {
	defer close(m.done)
	defer close(m.out)
	for attempt := 1; ctx.Err() == nil; attempt++ {
		gen, err := m.group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			// kafka-go backs off (JoinGroupBackoff) before it tries again.
			m.ix.log.Warn("joining the indexer group failed; retrying", "err", err, "attempt", attempt)
			continue
		}
		attempt = 0
		m.cur.Store(gen)
		m.ix.log.Info("indexer joined group generation", "generation", gen.ID, "partitions", len(gen.Assignments[m.ix.Topic()]))
		kafkaclient.RunGeneration(ctx, gen, func(gctx context.Context, topic string, pa kafka.PartitionAssignment) {
			m.fetchPartition(gctx, gen, topic, pa)
		})
	}
}

// fetchPartition reads one assigned partition from the group's committed
// offset until the generation ends. Returning earlier would end the
// generation, so errors are retried, and a reader the stall watch finds
// hung is replaced by a new one at the next offset to read.
func (m *membership) fetchPartition(gctx context.Context, gen *kafka.Generation, topic string, pa kafka.PartitionAssignment) {
	next := pa.Offset // the committed offset, or kafka-go's FirstOffset sentinel
	if next < 0 && next != kafka.FirstOffset && next != kafka.LastOffset {
		next = kafka.FirstOffset
	}
	for gctx.Err() == nil {
		next = m.readPartition(gctx, gen, topic, pa.ID, next)
	}
}

// readPartition reads partition from offset next with one reader until
// gctx ends or the stall watch gives up on the reader; it returns the next
// offset to read.
func (m *membership) readPartition(gctx context.Context, gen *kafka.Generation, topic string, partition int, next int64) int64 {
	ix := m.ix
	r := ix.clients.Reader(kafka.ReaderConfig{
		Topic: topic, Partition: partition,
		// Large fetches: an audit message carries hundreds of entries.
		MinBytes: 1 << 20, MaxBytes: 50 << 20, MaxWait: 200 * time.Millisecond,
		QueueCapacity: 1000, ReadLagInterval: -1,
		ReadBackoffMin: 50 * time.Millisecond, ReadBackoffMax: time.Second,
		Logger: kafka.LoggerFunc(ix.kafkaDebug), ErrorLogger: kafka.LoggerFunc(ix.kafkaWarn),
	})
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		ix.log.Warn("setting the audit fetch offset failed", "topic", topic, "partition", partition, "offset", next, "err", err)
	}
	rctx, stall := ix.watchStall(gctx, topic, partition)
	defer stall.stop()
	for attempt := 0; ; {
		stall.fetching(next)
		msg, err := ix.fetchMessage(rctx, r)
		stall.fetched()
		if err != nil {
			if gctx.Err() != nil || rctx.Err() != nil {
				return next
			}
			attempt++
			ix.log.Warn("fetching the audit topic failed; retrying", "partition", partition, "err", err, "attempt", attempt)
			if !sleepCtx(rctx, backoff(attempt)) {
				return next
			}
			continue
		}
		attempt = 0
		next = msg.Offset + 1
		select {
		case m.out <- fetched{msg: msg, gen: gen}:
		case <-gctx.Done():
			return next
		}
	}
}

// commitTimeout bounds a commit.
const commitTimeout = 10 * time.Second

// commit commits b's positions fetched under the current generation,
// through that generation. Positions of an earlier generation are left:
// their partitions may be another member's now, and what is re-read after
// the rebalance the store counts as duplicates. A failed commit is logged;
// the next batch's commit covers its partitions.
func (m *membership) commit(b *batch) {
	gen := m.cur.Load()
	offsets := map[string]map[int]int64{}
	stale := 0
	for _, p := range b.last {
		if p.gen != gen {
			stale++
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int]int64{}
		}
		offsets[p.topic][p.partition] = p.offset + 1 // the next message to read
	}
	if stale > 0 {
		m.ix.log.Info("audit messages fetched before a rebalance left uncommitted", "partitions", stale)
	}
	if len(offsets) == 0 {
		return
	}
	// CommitOffsets takes no context: wait for it at most commitTimeout (a
	// commit given up on may still arrive; it is of this generation and of
	// indexed messages).
	done := make(chan error, 1)
	go func() { done <- gen.CommitOffsets(offsets) }()
	t := time.NewTimer(commitTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			m.ix.log.Warn("committing audit offsets failed; the next commit covers them", "err", err)
		}
	case <-t.C:
		m.ix.log.Warn("committing audit offsets timed out", "timeout", commitTimeout)
	}
}

// close stops fetching and leaves the group, waiting at most timeout
// (leaving can block on an unreachable coordinator).
func (m *membership) close(timeout time.Duration) {
	m.cancel()
	closed := make(chan error, 1)
	go func() {
		for range m.out { // unblock fetchers
		}
		<-m.done
		closed <- m.group.Close()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-closed:
		if err != nil {
			m.ix.log.Warn("leaving the indexer group", "err", err)
		}
	case <-t.C:
		m.ix.log.Warn("leaving the indexer group timed out", "timeout", timeout)
	}
}
