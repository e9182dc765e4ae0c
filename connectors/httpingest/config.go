package httpingest

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes     = 4 << 20 // a request body; larger: 413
	DefaultMaxRecords       = 5000    // records in one request; more: 413
	DefaultRecordsPerSecond = 5000    // each principal's sustained rate; over it: 429
	DefaultProduceTimeout   = 10 * time.Second
	DefaultIdempotencyTTL   = 24 * time.Hour
	// DefaultIdempotencyLock bounds how long an unanswered request holds
	// its key: a request that died (a crash) frees it after this.
	DefaultIdempotencyLock = 5 * time.Minute
)

// Config is the `connectors: http_ingest:` block of exchange.yaml. Zero
// values take the defaults named on each field.
type Config struct {
	// Enabled mounts POST /api/v1/datasets/{dataset}/records and grants
	// the exchange's Kafka principal WRITE on every dataset's ingress
	// topic. exchange dev enables it; exchange serve does not unless the
	// block says so (a new way into ingress is an operator's choice).
	Enabled bool `yaml:"enabled"`
	// MaxBodyBytes bounds a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxRecords bounds the records of one request (default DefaultMaxRecords).
	MaxRecords int `yaml:"max_records"`
	// RecordsPerSecond is each principal's token bucket rate, in records
	// (default DefaultRecordsPerSecond).
	RecordsPerSecond float64 `yaml:"records_per_second"`
	// Burst is the bucket's size in records (default: the larger of
	// MaxRecords and 2 × RecordsPerSecond); at least MaxRecords, so that
	// every request that fits the limits can pass.
	Burst int `yaml:"burst"`
	// ProduceTimeout bounds producing one request's records (default
	// DefaultProduceTimeout); past it the answer is 503.
	ProduceTimeout time.Duration `yaml:"produce_timeout"`
	// IdempotencyTTL is how long an Idempotency-Key's answer is kept
	// (default DefaultIdempotencyTTL); expired keys are purged.
	IdempotencyTTL time.Duration `yaml:"idempotency_ttl"`
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.RecordsPerSecond == 0 {
		c.RecordsPerSecond = DefaultRecordsPerSecond
	}
	if c.Burst == 0 {
		c.Burst = max(c.MaxRecords, int(2*c.RecordsPerSecond))
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = DefaultProduceTimeout
	}
	if c.IdempotencyTTL == 0 {
		c.IdempotencyTTL = DefaultIdempotencyTTL
	}
	return c
}

// Validate reports every setting out of range (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 || c.MaxRecords < 0 || c.RecordsPerSecond < 0 || c.Burst < 0 || c.ProduceTimeout < 0 || c.IdempotencyTTL < 0 {
		errs = append(errs, errors.New("connectors.http_ingest: limits, rates and durations must not be negative"))
	}
	if c.Burst != 0 && c.Burst < c.MaxRecords {
		errs = append(errs, fmt.Errorf("connectors.http_ingest: burst %d is below max_records %d: a full request could never pass", c.Burst, c.MaxRecords))
	}
	return errors.Join(errs...)
}
