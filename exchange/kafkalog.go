package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// genLogger is the reader's kafka-go Logger. Besides forwarding at debug
// level, it is how the worker learns that the consumer group moved to a new
// generation: kafka-go exposes no generation to Reader users, but logs
// "subscribed to topics and partitions" exactly once per generation, after
// it joined and synced, before it starts that generation's commit loop.
//
// Why it matters (kafka-go #1398, #1308): records fetched under an old
// generation may belong to partitions now assigned to another member, and a
// commit sent after the change goes through the new generation's commit loop
// and is accepted by the broker, rewinding that member's progress. So the
// worker tags each fetched record with the generation count, commits only
// records of the current one, and cancels a commit still waiting to be sent
// when the generation changes (see session.commit).
type genLogger struct {
	s   *session
	log *slog.Logger
}

// subscribedPrefix is the format string kafka-go v0.4.51 (reader.go,
// Reader.subscribe) logs once per generation. If an upgrade changes it,
// Worker.Ready never turns ready and TestTwoWorkersOneGroup fails.
const subscribedPrefix = "subscribed to topics and partitions"

func (l *genLogger) Printf(format string, args ...any) {
	if strings.HasPrefix(format, subscribedPrefix) {
		l.s.newGeneration()
	}
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)), "source", "kafka-go")
	}
}

// kafkaErrorLogger forwards kafka-go's error log at warn level.
type kafkaErrorLogger struct{ log *slog.Logger }

func (l kafkaErrorLogger) Printf(format string, args ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)), "source", "kafka-go")
}

// newGeneration records a generation change and cancels a commit that has
// not been taken by a commit loop yet. It runs on kafka-go's group goroutine
// before the new generation's commit loop starts, so a cancelled commit
// cannot reach it (apart from the instant between the generation check in
// commit and kafka-go's channel send; such a commit only re-commits offsets
// this worker did process).
func (s *session) newGeneration() {
	s.gen.Add(1)
	s.w.joined.Store(true)
	s.w.metrics.generations.Inc()
	s.pmu.Lock()
	if s.pendingCommit != nil {
		s.pendingCommit()
	}
	s.pmu.Unlock()
}
