// Worker configuration: WorkerConfig with its defaults and validation, and
// the functional options of NewWorker.

package exchange

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements/names"
)

// WorkerConfig configures a Worker. Zero values take the documented defaults.
type WorkerConfig struct {
	// Brokers are the Kafka bootstrap addresses (host:port). Required.
	Brokers []string
	// GroupID is the consumer group shared by all exchange workers. Default "exchange".
	GroupID string

	// Partitions of the topics the worker creates. Default 3.
	Partitions int
	// ReplicationFactor of created topics; 0 means the broker default.
	ReplicationFactor int
	// SkipTopicCreation: the topics exist already (the worker's principal may
	// not create topics). Default false: the worker creates what the plan needs.
	SkipTopicCreation bool

	// MaxBatchRecords bounds one batch (records fetched, processed, produced,
	// audited and committed together). Default 1000.
	MaxBatchRecords int
	// Linger is how long a batch waits for more records after its first one.
	// Default 5ms.
	Linger time.Duration
	// MaxRecordBytes: ingress records whose key plus value is larger are
	// quarantined as size:too_large (the quarantine copy carries no value,
	// and no key over 4 KiB, so it still fits). Default 512 KiB.
	MaxRecordBytes int
	// MaxHeaders and MaxHeaderBytes bound an ingress record's headers (count
	// and total key+value bytes); beyond them the record is quarantined as
	// headers:invalid without its headers. Defaults 64 and 16 KiB.
	MaxHeaders     int
	MaxHeaderBytes int
	// ProduceBatchBytes bounds one produce request per partition; it must stay
	// under the brokers' message.max.bytes (1 MiB by default; kfake refuses
	// more). Default 900 KiB.
	ProduceBatchBytes int64

	// WriteTimeout bounds one produce attempt; a timeout is an unknown
	// outcome and is retried (kafka-go #1427). Default 10s.
	WriteTimeout time.Duration
	// LedgerTimeout bounds one ledger append attempt. Default 10s.
	LedgerTimeout time.Duration
	// CommitTimeout bounds one offset commit, including the final one. Default 10s.
	CommitTimeout time.Duration
	// ShutdownTimeout is how long the batch in flight may take to finish
	// after the run context is cancelled; past it the batch is abandoned
	// uncommitted (it is re-processed by whoever owns the partition next).
	// Default 10s.
	ShutdownTimeout time.Duration
	// PlanCheckInterval: how often an idle worker looks for a new plan
	// (a busy one looks before every batch). Default 1s.
	PlanCheckInterval time.Duration
	// StallTimeout: when a partition had records waiting behind its last
	// processed one and none arrived for this long while the worker was
	// idle, the worker recreates its group membership and partition readers
	// (watchdog for kafka-go readers that stop fetching). Ingress written by
	// transactional producers ends in a commit marker that looks like one
	// waiting record; the watchdog then recreates them once per
	// StallTimeout on an idle topic.
	// Default 2m; negative disables.
	StallTimeout time.Duration

	// Consumer group timings (kafka-go defaults are 30s/3s/30s). Defaults
	// 10s session, 1s heartbeat, 10s rebalance.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// MaxWait bounds one fetch when no data is there (with data it returns at
	// once). kafka-go asks the broker to wait MaxWait minus up to 1 s of
	// round-trip allowance and drops the connection past MaxWait: short values
	// give spurious i/o timeouts and reconnects on a loaded broker. Default 2s.
	MaxWait time.Duration

	// Dialer for the consumer group and its partition readers (TLS, SASL);
	// nil: kafka-go's default.
	Dialer *kafka.Dialer
	// Transport for the writer and topic creation (TLS, SASL); nil: a new
	// kafka.Transport per worker.
	Transport kafka.RoundTripper
}

func (c *WorkerConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.GroupID == "" {
		c.GroupID = names.DefaultGroup
	}
	def(&c.Partitions, 3)
	def(&c.MaxBatchRecords, 1000)
	def(&c.MaxRecordBytes, 512<<10)
	def(&c.MaxHeaders, 64)
	def(&c.MaxHeaderBytes, 16<<10)
	if c.ProduceBatchBytes <= 0 {
		c.ProduceBatchBytes = 900 << 10
	}
	defd(&c.Linger, 5*time.Millisecond)
	defd(&c.WriteTimeout, 10*time.Second)
	defd(&c.LedgerTimeout, 10*time.Second)
	defd(&c.CommitTimeout, 10*time.Second)
	defd(&c.ShutdownTimeout, 10*time.Second)
	defd(&c.PlanCheckInterval, time.Second)
	if c.StallTimeout == 0 {
		c.StallTimeout = 2 * time.Minute
	}
	defd(&c.SessionTimeout, 10*time.Second)
	defd(&c.HeartbeatInterval, time.Second)
	defd(&c.RebalanceTimeout, 10*time.Second)
	defd(&c.MaxWait, 2*time.Second)
}

func (c *WorkerConfig) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("worker config: no brokers")
	}
	if int64(c.MaxRecordBytes)+int64(c.MaxHeaderBytes)+4096 > c.ProduceBatchBytes {
		return fmt.Errorf("worker config: max record bytes %d plus headers %d must fit in produce batch bytes %d",
			c.MaxRecordBytes, c.MaxHeaderBytes, c.ProduceBatchBytes)
	}
	return nil
}

// Option configures a Worker.
type Option func(*Worker)

// WithLogger sets the logger (nil: the default). Default slog.Default().
// Logs carry topics, partitions, offsets, counts and reason codes, never
// record content.
func WithLogger(l *slog.Logger) Option {
	return func(w *Worker) {
		if l != nil {
			w.log = l
		}
	}
}

// WithTracerProvider sets where batch spans go (nil: the default). Default:
// a no-op provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(w *Worker) {
		if tp != nil {
			w.tracer = tp.Tracer("github.com/exchange-gov/exchange/exchange")
		}
	}
}

// WithMetrics sets the metrics (nil: the default). Default: metrics
// registered nowhere.
func WithMetrics(m *Metrics) Option { return func(w *Worker) { w.metrics = m } }

// WithClock sets the clock used for decisions (freshness) and ledger
// decision times (nil: the default). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(w *Worker) {
		if now != nil {
			w.now = now
		}
	}
}
