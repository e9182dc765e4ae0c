package exchange

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// kafkaLogger is kafka-go's Logger for the consumer group and the partition
// readers: it forwards at debug level. (The worker used to learn of group
// generations by parsing the group Reader's "subscribed to topics and
// partitions" line; it now consumes through kafka.ConsumerGroup and holds
// each *kafka.Generation itself, see session.run.)
type kafkaLogger struct{ log *slog.Logger }

func (l kafkaLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)), "source", "kafka-go")
	}
}

// kafkaErrorLogger forwards kafka-go's error log at warn level.
type kafkaErrorLogger struct{ log *slog.Logger }

func (l kafkaErrorLogger) Printf(format string, args ...any) {
	l.log.Warn(strings.TrimSpace(fmt.Sprintf(format, args...)), "source", "kafka-go")
}
