// The lag and stall watchdog: per-partition consumer lag as of the last
// processed record, and the partitions that stopped fetching with records
// waiting.

package exchange

import "time"

type partitionLag struct {
	lag  int64
	seen time.Time // when the partition's last record was processed
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
// with a short FetchMaxWait).
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

// stallWatch reports whether a partition of s stalled (see stalled); the
// caller asks while idle and then recreates the session. Disabled when
// StallTimeout is negative.
func (w *Worker) stallWatch(s *session) bool {
	if w.cfg.StallTimeout <= 0 {
		return false
	}
	tp, ok := s.stalled(time.Now(), w.cfg.StallTimeout)
	if !ok {
		return false
	}
	w.metrics.stalls.Inc()
	w.log.Warn("partition stalled with records waiting: recreating reader",
		"topic", tp.topic, "partition", tp.partition, "after", w.cfg.StallTimeout)
	return true
}
