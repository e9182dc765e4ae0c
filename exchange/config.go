// Worker configuration: WorkerConfig, made of the Kafka block (KafkaConfig)
// and the tuning (Tuning) of exchange.yaml, with their defaults and
// validation, and the functional options of NewWorker.

package exchange

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// WorkerConfig configures a Worker. Zero values take the documented defaults.
type WorkerConfig struct {
	// Kafka is the connection block, the consumer group and the layout of
	// the topics the worker creates: the `kafka:` block of exchange.yaml.
	// Kafka.Brokers is required. The worker builds every kafka-go client it
	// uses from it (kafkaclient.Clients), with connections of its own.
	Kafka KafkaConfig
	// SkipTopicCreation: the topics exist already (the worker's principal may
	// not create topics). Default false: the worker creates what the plan needs.
	SkipTopicCreation bool
	// Tuning is how the worker batches, fetches, produces and times out:
	// the `worker:` block of exchange.yaml.
	Tuning
}

func (c *WorkerConfig) setDefaults() {
	c.Kafka = c.Kafka.WithDefaults()
	c.Tuning.setDefaults()
}

// Validate reports every problem of c with its defaults applied (NewWorker
// refuses a configuration it reports).
func (c WorkerConfig) Validate() error {
	c.setDefaults()
	return c.validate()
}

// validate checks c once its defaults are set.
func (c *WorkerConfig) validate() error {
	if err := errors.Join(c.Kafka.Validate(), c.Tuning.Validate()); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	return nil
}

// DefaultPartitions is the partition count of the topics the exchange
// creates when none is configured.
const DefaultPartitions = 3

// KafkaConfig is the Kafka side of the exchange: the connection block
// (brokers, client id, TLS, SASL), the consumer group its workers share and
// the layout of the topics they create. It is the `kafka:` block of
// exchange.yaml, passed as one value from the configuration to the app and
// on to every worker.
type KafkaConfig struct {
	kafkaclient.Config `yaml:",inline"`
	// GroupID is the consumer group shared by all exchange workers.
	// Default names.DefaultGroup ("exchange").
	GroupID string `yaml:"group_id"`
	// Partitions of the topics the exchange creates. Default DefaultPartitions.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of created topics; 0 means the broker default
	// (default.replication.factor).
	ReplicationFactor int `yaml:"replication_factor"`
	// Principal is the exchange's own Kafka principal in the ACLs it
	// compiles (`exchange acl`). Default User:<sasl.username> with SASL,
	// else DefaultPrincipal. With a TLS client certificate or OAUTHBEARER,
	// set it to the principal the brokers map the certificate or token to.
	Principal string `yaml:"principal"`
	// ManageACLs makes the exchange reconcile the cluster's ACLs with the
	// plan in force: at start, after every plan change and at each
	// agreement's validity bounds (exchange/app). Its principal then needs
	// ALTER on the cluster. Default false: ACLs are the operator's
	// (`exchange acl apply`).
	ManageACLs bool `yaml:"manage_acls"`
}

// DefaultPrincipal is the exchange's Kafka principal when neither
// kafka.principal nor kafka.sasl.username names it.
const DefaultPrincipal = "User:exchange"

// DefaultKafkaConfig is a KafkaConfig with the defaults filled in (and no
// brokers).
func DefaultKafkaConfig() KafkaConfig {
	return KafkaConfig{GroupID: names.DefaultGroup, Partitions: DefaultPartitions}
}

// WithDefaults returns k with its zero fields set to their defaults.
func (k KafkaConfig) WithDefaults() KafkaConfig {
	d := DefaultKafkaConfig()
	if k.GroupID == "" {
		k.GroupID = d.GroupID
	}
	if k.Partitions <= 0 {
		k.Partitions = d.Partitions
	}
	return k
}

// String describes k without secrets; it replaces the connection block's
// String, which KafkaConfig would otherwise promote and so hide the rest.
func (k KafkaConfig) String() string {
	return fmt.Sprintf("%s group=%s partitions=%d replication_factor=%d principal=%s manage_acls=%t", k.Config, k.GroupID, k.Partitions, k.ReplicationFactor, k.ExchangePrincipal(), k.ManageACLs)
}

// LogValue is k as slog attributes, without secrets.
func (k KafkaConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("connection", k.Config), slog.String("group_id", k.GroupID),
		slog.Int("partitions", k.Partitions), slog.Int("replication_factor", k.ReplicationFactor), slog.String("principal", k.ExchangePrincipal()), slog.Bool("manage_acls", k.ManageACLs))
}

// ExchangePrincipal is the exchange's principal in ACLs: Principal, else
// User:<sasl.username>, else DefaultPrincipal.
func (k KafkaConfig) ExchangePrincipal() string {
	switch {
	case k.Principal != "":
		return k.Principal
	case k.SASL != nil && k.SASL.Username != "":
		return "User:" + k.SASL.Username
	}
	return DefaultPrincipal
}

// Validate reports every problem of k at once, naming the YAML keys
// (kafka.…); the defaults must be applied already.
func (k KafkaConfig) Validate() error {
	errs := []error{k.Config.Validate()}
	if k.GroupID == "" {
		errs = append(errs, errors.New("kafka.group_id: must not be empty"))
	}
	if k.Partitions < 1 {
		errs = append(errs, fmt.Errorf("kafka.partitions: %d, must be at least 1", k.Partitions))
	}
	if k.Principal != "" && !strings.Contains(k.Principal, ":") {
		errs = append(errs, fmt.Errorf("kafka.principal: %q, want <type>:<name> such as User:exchange", k.Principal))
	}
	return errors.Join(errs...)
}

// Tuning is how a worker batches, fetches, produces and times out: the
// `worker:` block of exchange.yaml. Zero values take the defaults named on
// each field (DefaultTuning); they are declared once, in setDefaults.
type Tuning struct {
	// MaxBatchRecords bounds one batch (records fetched, processed, produced,
	// audited and committed together). Default 1000.
	MaxBatchRecords int `yaml:"max_batch_records"`
	// Linger is how long a batch waits for more records after its first one.
	// Default 5ms.
	Linger time.Duration `yaml:"linger"`
	// MaxRecordBytes: ingress records whose key plus value is larger are
	// quarantined as size:too_large (the quarantine copy carries no value,
	// and no key over 4 KiB, so it still fits). Default 512 KiB.
	MaxRecordBytes int `yaml:"max_record_bytes"`
	// MaxHeaders and MaxHeaderBytes bound an ingress record's headers (count
	// and total key+value bytes); beyond them the record is quarantined as
	// headers:invalid without its headers. Defaults 64 and 16 KiB.
	MaxHeaders     int `yaml:"max_headers"`
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ProduceBatchBytes bounds one produce request per partition; it must stay
	// under the brokers' message.max.bytes (1 MiB by default; kfake refuses
	// more). Default 900 KiB.
	ProduceBatchBytes int64 `yaml:"produce_batch_bytes"`
	// ProduceCompression compresses what the worker produces (deliveries,
	// quarantine copies, audit entries): none (the default), snappy, lz4,
	// zstd or gzip. It trades CPU for bytes on the wire and on the
	// brokers' disks (BENCHMARKS.md measures it).
	ProduceCompression string `yaml:"produce_compression"`
	// PipelineDepth is how many produced batches may wait for the commit
	// stage (which takes up to 8 waiting batches at once). Deeper smooths
	// commit latency spikes; each place costs one batch buffer of
	// MaxBatchRecords. Default 7.
	PipelineDepth int `yaml:"pipeline_depth"`

	// FetchMinBytes and FetchMaxBytes bound what one fetch of a partition
	// asks the broker for. Defaults 1 (answer as soon as there is a record)
	// and 10 MiB.
	FetchMinBytes int `yaml:"fetch_min_bytes"`
	FetchMaxBytes int `yaml:"fetch_max_bytes"`
	// FetchMaxWait bounds one fetch when no data is there (with data it
	// returns at once). kafka-go asks the broker to wait FetchMaxWait minus
	// up to 1 s of round-trip allowance and drops the connection past it:
	// short values give spurious i/o timeouts and reconnects on a loaded
	// broker. Default 2s.
	FetchMaxWait time.Duration `yaml:"fetch_max_wait"`

	// WriteTimeout bounds one produce attempt; a timeout is an unknown
	// outcome and is retried (kafka-go #1427). Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// LedgerTimeout bounds one write of the audit indexer to the SQL
	// ledger. Default 10s.
	LedgerTimeout time.Duration `yaml:"ledger_timeout"`
	// MaxIndexLag is how far the SQL ledger's index may fall behind the
	// audit topic (the age of the oldest audit message not indexed yet)
	// before the workers pause. Below it a database outage delays the
	// index and deliveries go on (each is durably audited in the audit
	// topic); past it nothing more is consumed until the index catches up.
	// Default 15m.
	MaxIndexLag time.Duration `yaml:"max_index_lag"`
	// IndexWriters is how many index writes the audit indexer runs at
	// once, each over its own chains. Default: 4 on PostgreSQL (it locks
	// per chain), 1 on SQLite (one writer).
	IndexWriters int `yaml:"index_writers"`
	// CommitTimeout bounds one offset commit, including the final one. Default 10s.
	CommitTimeout time.Duration `yaml:"commit_timeout"`
	// ShutdownTimeout is how long the batch in flight may take to finish
	// after the run context is cancelled; past it the batch is abandoned
	// uncommitted (it is re-processed by whoever owns the partition next).
	// Default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// PlanCheckInterval: how often an idle worker looks for a new plan
	// (a busy one looks before every batch). Default 1s.
	PlanCheckInterval time.Duration `yaml:"plan_check_interval"`
	// StallTimeout: when a partition had records waiting behind its last
	// processed one and none arrived for this long while the worker was
	// idle, the worker recreates its group membership and partition readers
	// (watchdog for kafka-go readers that stop fetching). Ingress written by
	// transactional producers ends in a commit marker that looks like one
	// waiting record; the watchdog then recreates them once per
	// StallTimeout on an idle topic.
	// Default 2m; negative disables.
	StallTimeout time.Duration `yaml:"stall_timeout"`

	// Consumer group timings (kafka-go defaults are 30s/3s/30s). Defaults
	// 10s session, 1s heartbeat, 10s rebalance.
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
}

// DefaultTuning is the tuning a worker runs with when nothing is set.
func DefaultTuning() Tuning {
	var t Tuning
	t.setDefaults()
	return t
}

// WithDefaults returns t with every unset value at its default.
func (t Tuning) WithDefaults() Tuning {
	t.setDefaults()
	return t
}

// setDefaults sets every zero (or negative, but StallTimeout's) value to its
// default: the one place the defaults are declared.
func (t *Tuning) setDefaults() {
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
	def(&t.MaxBatchRecords, 1000)
	def(&t.MaxRecordBytes, 512<<10)
	def(&t.MaxHeaders, 64)
	def(&t.MaxHeaderBytes, 16<<10)
	if t.ProduceBatchBytes <= 0 {
		t.ProduceBatchBytes = 900 << 10
	}
	def(&t.PipelineDepth, 7)
	def(&t.FetchMinBytes, 1)
	def(&t.FetchMaxBytes, 10<<20)
	defd(&t.FetchMaxWait, 2*time.Second)
	defd(&t.Linger, 5*time.Millisecond)
	defd(&t.WriteTimeout, 10*time.Second)
	defd(&t.LedgerTimeout, 10*time.Second)
	defd(&t.MaxIndexLag, 15*time.Minute)
	defd(&t.CommitTimeout, 10*time.Second)
	defd(&t.ShutdownTimeout, 10*time.Second)
	defd(&t.PlanCheckInterval, time.Second)
	if t.StallTimeout == 0 {
		t.StallTimeout = 2 * time.Minute
	}
	defd(&t.SessionTimeout, 10*time.Second)
	defd(&t.HeartbeatInterval, time.Second)
	defd(&t.RebalanceTimeout, 10*time.Second)
}

// Validate reports every problem of t at once, naming the YAML keys
// (worker.…): a negative size or duration (but stall_timeout, where it
// disables the watchdog), and, with the defaults applied, a record that
// could not fit in a produce batch or fetch bounds the wrong way round.
func (t Tuning) Validate() error {
	errs := t.negatives()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	t.setDefaults()
	if int64(t.MaxRecordBytes)+int64(t.MaxHeaderBytes)+4096 > t.ProduceBatchBytes {
		errs = append(errs, fmt.Errorf("worker.max_record_bytes %d plus max_header_bytes %d (and 4 KiB) must fit in produce_batch_bytes %d",
			t.MaxRecordBytes, t.MaxHeaderBytes, t.ProduceBatchBytes))
	}
	if _, err := t.compression(); err != nil {
		errs = append(errs, err)
	}
	if t.FetchMinBytes > t.FetchMaxBytes {
		errs = append(errs, fmt.Errorf("worker.fetch_min_bytes %d is over fetch_max_bytes %d", t.FetchMinBytes, t.FetchMaxBytes))
	}
	return errors.Join(errs...)
}

// compression is ProduceCompression as kafka-go's codec (0: none).
func (t Tuning) compression() (kafka.Compression, error) {
	switch t.ProduceCompression {
	case "", "none":
		return 0, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	case "gzip":
		return kafka.Gzip, nil
	}
	return 0, fmt.Errorf("worker.produce_compression %q: want none, snappy, lz4, zstd or gzip", t.ProduceCompression)
}

func (t Tuning) negatives() []error {
	var errs []error
	sizes := []struct {
		key string
		v   int64
	}{
		{"max_batch_records", int64(t.MaxBatchRecords)}, {"max_record_bytes", int64(t.MaxRecordBytes)},
		{"max_headers", int64(t.MaxHeaders)}, {"max_header_bytes", int64(t.MaxHeaderBytes)},
		{"produce_batch_bytes", t.ProduceBatchBytes}, {"pipeline_depth", int64(t.PipelineDepth)}, {"index_writers", int64(t.IndexWriters)},
		{"fetch_min_bytes", int64(t.FetchMinBytes)}, {"fetch_max_bytes", int64(t.FetchMaxBytes)},
	}
	for _, s := range sizes {
		if s.v < 0 {
			errs = append(errs, fmt.Errorf("worker.%s: %d, must be positive (or 0: the default)", s.key, s.v))
		}
	}
	durations := []struct {
		key string
		d   time.Duration
	}{
		{"linger", t.Linger}, {"fetch_max_wait", t.FetchMaxWait}, {"write_timeout", t.WriteTimeout},
		{"ledger_timeout", t.LedgerTimeout}, {"max_index_lag", t.MaxIndexLag}, {"commit_timeout", t.CommitTimeout}, {"shutdown_timeout", t.ShutdownTimeout},
		{"plan_check_interval", t.PlanCheckInterval}, {"session_timeout", t.SessionTimeout},
		{"heartbeat_interval", t.HeartbeatInterval}, {"rebalance_timeout", t.RebalanceTimeout},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("worker.%s: %v, must be positive (or 0: the default)", d.key, d.d))
		}
	}
	return errs
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

// WithActivity has every audited batch's counts and first quarantine
// details passed to o, after the batch's commit (nil: nobody).
func WithActivity(o ActivityObserver) Option { return func(w *Worker) { w.activity = o } }

// WithGate has every delivery checked against the agreement states g
// holds (the kill switch), and batches wait while g is closed (nil: no
// gate, the plan's statuses alone decide).
func WithGate(g *Gate) Option { return func(w *Worker) { w.gate = g } }

// WithIndexLag has the worker pause while the SQL ledger's index is more
// than MaxIndexLag behind the audit topic, as l reports it (nil: no bound).
func WithIndexLag(l IndexLag) Option { return func(w *Worker) { w.index = l } }

// WithClock sets the clock used for decisions (freshness) and ledger
// decision times (nil: the default). Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(w *Worker) {
		if now != nil {
			w.now = now
		}
	}
}
