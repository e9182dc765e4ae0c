package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// Connector publishes one agency's outbox table. Build it with New, run it
// with Run, release it with Close.
type Connector struct {
	cfg  Config
	dsn  string
	log  *slog.Logger
	m    *metrics
	pub  *publisher
	tbl  string // the outbox table, quoted
	dead string // the dead-letter table, quoted

	reg    prometheus.Registerer
	getenv func(string) string
	source SchemaSource

	// afterPublish, when set (tests), runs after Kafka acknowledged a batch
	// and before its position is stored (where a crash makes duplicates),
	// with where the batch came from: "table" (poll, or the rows replication
	// drains at start) or "stream" (the replication slot).
	afterPublish func(from string)
}

// Option configures New.
type Option func(*Connector)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Connector) { c.log = l } }

// WithRegisterer registers the metrics on r (default: a private registry,
// i.e. not exported).
func WithRegisterer(r prometheus.Registerer) Option { return func(c *Connector) { c.reg = r } }

// WithGetenv sets how database.url_env is read (default os.Getenv).
func WithGetenv(f func(string) string) Option { return func(c *Connector) { c.getenv = f } }

// WithSchemaSource replaces the registry lookup of each dataset's latest
// ingress schema (default: registryhttp.FetchLatest at cfg.Registry.URL
// through the registry client given to New).
func WithSchemaSource(s SchemaSource) Option { return func(c *Connector) { c.source = s } }

// New returns a connector for cfg (validated) that produces through kc (the
// agency's Kafka credentials) and reads schemas through registry, an HTTP
// client that authenticates as the agency (nil: http.DefaultClient).
func New(cfg Config, kc *kafkaclient.Clients, registry *http.Client, opts ...Option) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, log: slog.Default(), reg: prometheus.NewRegistry()}
	for _, o := range opts {
		o(c)
	}
	dsn, err := cfg.DatabaseURL(c.getenv)
	if err != nil {
		return nil, err
	}
	c.dsn = dsn
	if c.source == nil {
		url := cfg.Registry.URL
		c.source = func(ctx context.Context, ds string) (*schemas.SchemaVersion, error) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return registryhttp.FetchLatest(ctx, registry, url, names.IngressSubject(ds))
		}
	}
	if c.m, err = newMetrics(c.reg, cfg.Agency); err != nil {
		return nil, err
	}
	c.log = c.log.With("connector", "outbox", "agency", cfg.Agency, "table", cfg.Table)
	c.tbl, c.dead = quoteTable(cfg.Table), quoteTable(cfg.DeadLetterTable)
	c.pub = newPublisher(cfg.Agency, cfg.KeyFields, c.source, kc, c.m, c.log)
	return c, nil
}

// Close releases the Kafka writers. Run must have returned.
func (c *Connector) Close() { c.pub.close() }

// Run publishes the outbox until ctx is done, then returns nil. Setup
// problems (the table missing, no privilege for the mode asked) are
// returned at once; later failures (database, registry, Kafka) are logged,
// counted and retried with exponential backoff, resuming at the stored
// position.
func (c *Connector) Run(ctx context.Context) error {
	mode, err := c.setup(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	c.log.Info("outbox connector started", "mode", mode)
	backoff := c.cfg.PollInterval
	for {
		var progressed bool
		if mode == ModeReplication {
			err = c.runReplication(ctx, &progressed)
		} else {
			err = c.runPoll(ctx, &progressed)
		}
		if ctx.Err() != nil {
			return nil
		}
		c.m.failures.WithLabelValues(stageOf(err, stageDatabase)).Inc()
		if progressed {
			backoff = c.cfg.PollInterval
		}
		c.log.Error("outbox connector failed; retrying", "mode", mode, "retry_in", backoff, "error", err)
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, defaultMaxBackoff)
	}
}

// setup checks the outbox table, creates the dead-letter table when
// missing, and resolves the mode.
func (c *Connector) setup(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return "", fmt.Errorf("outbox database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT id, dataset, payload::text, created_at FROM "+c.tbl+" LIMIT 0"); err != nil {
		return "", fmt.Errorf("outbox table %s (want the columns id, dataset, payload, created_at; see the package doc): %w", c.cfg.Table, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+c.dead+` (
		id bigint PRIMARY KEY, dataset text NOT NULL, payload jsonb NOT NULL,
		created_at timestamptz NOT NULL, error text NOT NULL,
		failed_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return "", fmt.Errorf("dead-letter table %s: %w", c.cfg.DeadLetterTable, err)
	}
	var canReplicate bool
	if err := conn.QueryRow(ctx, `SELECT current_setting('wal_level') = 'logical'
		AND (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user)`).Scan(&canReplicate); err != nil {
		return "", fmt.Errorf("outbox database: checking replication rights: %w", err)
	}
	switch {
	case c.cfg.Mode == ModePoll, c.cfg.Mode == ModeAuto && !canReplicate:
		return ModePoll, nil
	case !canReplicate:
		return "", errors.New("mode replication: the database role lacks REPLICATION or wal_level is not logical (use mode poll, or grant it)")
	}
	if err := c.ensurePublication(ctx, conn); err != nil {
		return "", err
	}
	return ModeReplication, nil
}

// sleep waits d or until ctx is done; false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
