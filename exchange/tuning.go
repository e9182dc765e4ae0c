package exchange

import (
	"errors"
	"fmt"
	"time"
)

// Tuning is how a worker batches, fetches, produces and times out: the
// `worker:` block of exchange.yaml. Zero values take the defaults
// documented on WorkerConfig's fields of the same name (DefaultTuning
// lists them); the defaults are declared once, in WorkerConfig.
type Tuning struct {
	MaxBatchRecords   int           `yaml:"max_batch_records"`
	Linger            time.Duration `yaml:"linger"`
	MaxRecordBytes    int           `yaml:"max_record_bytes"`
	MaxHeaders        int           `yaml:"max_headers"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	ProduceBatchBytes int64         `yaml:"produce_batch_bytes"`
	FetchMaxWait      time.Duration `yaml:"fetch_max_wait"` // WorkerConfig.MaxWait
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	LedgerTimeout     time.Duration `yaml:"ledger_timeout"`
	CommitTimeout     time.Duration `yaml:"commit_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	PlanCheckInterval time.Duration `yaml:"plan_check_interval"`
	StallTimeout      time.Duration `yaml:"stall_timeout"` // negative disables the watchdog
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
}

// DefaultTuning is the tuning a worker runs with when nothing is set.
func DefaultTuning() Tuning {
	c := WorkerConfig{}
	c.setDefaults()
	return tuningOf(c)
}

// Apply sets c's tuning fields to t's non-zero values.
func (t Tuning) Apply(c *WorkerConfig) {
	setInt := func(dst *int, v int) {
		if v != 0 {
			*dst = v
		}
	}
	setDur := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	setInt(&c.MaxBatchRecords, t.MaxBatchRecords)
	setDur(&c.Linger, t.Linger)
	setInt(&c.MaxRecordBytes, t.MaxRecordBytes)
	setInt(&c.MaxHeaders, t.MaxHeaders)
	setInt(&c.MaxHeaderBytes, t.MaxHeaderBytes)
	if t.ProduceBatchBytes != 0 {
		c.ProduceBatchBytes = t.ProduceBatchBytes
	}
	setDur(&c.MaxWait, t.FetchMaxWait)
	setDur(&c.WriteTimeout, t.WriteTimeout)
	setDur(&c.LedgerTimeout, t.LedgerTimeout)
	setDur(&c.CommitTimeout, t.CommitTimeout)
	setDur(&c.ShutdownTimeout, t.ShutdownTimeout)
	setDur(&c.PlanCheckInterval, t.PlanCheckInterval)
	setDur(&c.StallTimeout, t.StallTimeout)
	setDur(&c.SessionTimeout, t.SessionTimeout)
	setDur(&c.HeartbeatInterval, t.HeartbeatInterval)
	setDur(&c.RebalanceTimeout, t.RebalanceTimeout)
}

func tuningOf(c WorkerConfig) Tuning {
	return Tuning{
		MaxBatchRecords: c.MaxBatchRecords, Linger: c.Linger,
		MaxRecordBytes: c.MaxRecordBytes, MaxHeaders: c.MaxHeaders, MaxHeaderBytes: c.MaxHeaderBytes,
		ProduceBatchBytes: c.ProduceBatchBytes, FetchMaxWait: c.MaxWait,
		WriteTimeout: c.WriteTimeout, LedgerTimeout: c.LedgerTimeout, CommitTimeout: c.CommitTimeout,
		ShutdownTimeout: c.ShutdownTimeout, PlanCheckInterval: c.PlanCheckInterval, StallTimeout: c.StallTimeout,
		SessionTimeout: c.SessionTimeout, HeartbeatInterval: c.HeartbeatInterval, RebalanceTimeout: c.RebalanceTimeout,
	}
}

// Validate reports every problem of t at once, naming the YAML keys
// (worker.…): a negative size or duration (but stall_timeout, where it
// disables the watchdog), and a record that could not fit in a produce
// batch once the defaults are applied.
func (t Tuning) Validate() error {
	var errs []error
	sizes := []struct {
		key string
		v   int64
	}{
		{"max_batch_records", int64(t.MaxBatchRecords)}, {"max_record_bytes", int64(t.MaxRecordBytes)},
		{"max_headers", int64(t.MaxHeaders)}, {"max_header_bytes", int64(t.MaxHeaderBytes)},
		{"produce_batch_bytes", t.ProduceBatchBytes},
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
		{"ledger_timeout", t.LedgerTimeout}, {"commit_timeout", t.CommitTimeout}, {"shutdown_timeout", t.ShutdownTimeout},
		{"plan_check_interval", t.PlanCheckInterval}, {"session_timeout", t.SessionTimeout},
		{"heartbeat_interval", t.HeartbeatInterval}, {"rebalance_timeout", t.RebalanceTimeout},
	}
	for _, d := range durations {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("worker.%s: %v, must be positive (or 0: the default)", d.key, d.d))
		}
	}
	if len(errs) == 0 {
		c := WorkerConfig{Brokers: []string{"validate"}}
		t.Apply(&c)
		c.setDefaults()
		if err := c.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
