// The group session: one consumer-group membership over a fixed set of
// ingress topics, the generations it joins, and the generation-bound commit.

package exchange

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

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

type topicPartition struct {
	topic     string
	partition int
}

// newSession starts a session over topics: it creates the consumer group
// and starts run, which joins it in the background.
func (w *Worker) newSession(topics []string) (*session, error) {
	s := &session{w: w, topics: topics, done: make(chan struct{})}
	gc := kafka.ConsumerGroupConfig{
		ID:     w.cfg.Kafka.GroupID,
		Topics: topics,
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
	g, err := w.clients.ConsumerGroup(gc)
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

		kafkaclient.RunGeneration(ctx, gen, func(gctx context.Context, topic string, pa kafka.PartitionAssignment) {
			s.fetchPartition(gctx, gen, topic, pa)
		})
	}
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

// commit commits, per partition, the offset after the highest one of the
// batches' records fetched under the session's current generation, through
// that generation's CommitOffsets; it returns how many partitions it
// committed. Every record of the batch was produced and audited, and
// records of a partition are fetched in order from the offset committed when
// their generation began, so the highest offset is the end of the
// contiguous processed prefix (commits are positional: committing past an
// unprocessed record would lose it, kafka-go #764, #1354). Records of an
// older generation are left uncommitted (kafka-go #1398, #1308): their
// partitions may belong to another member now, and they are re-fetched from
// the committed offset by whoever owns them. A failed commit is not fatal:
// the records are re-processed later, with the same delivery ids.
//
// The commit is bound to its generation: CommitOffsets sends the
// generation's id and member id, so the broker refuses it once the group has
// moved on (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS),
// and kafka-go fails it outright once the generation's coordinator
// connection is closed. That makes a backwards commit impossible without
// reading the committed offsets first (the worker used to, as
// dropBehindCommitted, when it committed through the group Reader's shared
// queue): within one generation a partition has one owner, which starts at
// the offset committed when the generation began (read by kafka-go after the
// generation formed, when no commit of an older generation can be accepted
// any more) and commits increasing offsets in order on one connection; a
// commit of an older generation, whenever it arrives, is refused.
//
// The commit has its own context: on shutdown it still completes for a
// batch that finished (the final commit).
func (s *session) commit(ctx context.Context, batches ...[]fetched) int {
	w := s.w
	gen := s.cur.Load()
	offsets := map[string]map[int]int64{}
	stale, partitions := 0, 0
	for _, batch := range batches {
		for i := range batch {
			f := &batch[i]
			if f.gen != gen {
				stale++
				continue
			}
			parts := offsets[f.msg.Topic]
			if parts == nil {
				parts = map[int]int64{}
				offsets[f.msg.Topic] = parts
			}
			// A committed offset names the next record to read (kafka-go's
			// Reader commits msg.Offset+1 too; CommitOffsets sends the value
			// as given).
			next := f.msg.Offset + 1
			if prev, ok := parts[f.msg.Partition]; !ok {
				parts[f.msg.Partition] = next
				partitions++
			} else if next > prev {
				parts[f.msg.Partition] = next
			}
		}
	}
	if stale > 0 {
		w.metrics.commits.WithLabelValues("skipped_rebalance").Inc()
		w.log.Info("records fetched before a rebalance left uncommitted", "records", stale)
	}
	if partitions == 0 {
		return 0
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.CommitTimeout)
	defer cancel()
	// CommitOffsets takes no context (kafka-go bounds it by the group's
	// network timeout, 5 s); wait for it at most CommitTimeout. A commit
	// given up on here may still arrive: it is of this generation, and of
	// offsets this worker processed, in order on the generation's
	// connection.
	done := make(chan error, 1)
	go func() { done <- gen.CommitOffsets(offsets) }()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		err = cctx.Err()
	}
	if err != nil {
		w.metrics.commits.WithLabelValues("error").Inc()
		w.log.Warn("commit failed; records will be re-processed", "err", err,
			"generation", gen.ID, "partitions", partitions)
		return 0
	}
	w.metrics.commits.WithLabelValues("ok").Inc()
	return partitions
}
