package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func init() {
	open := func(ctx context.Context, rawURL string, cfg store.Config) (store.Backend, error) {
		return Open(ctx, rawURL, cfg)
	}
	store.Register("postgres", open)
	store.Register("postgresql", open)
}

// DB is the PostgreSQL backend.
type DB struct {
	pool *pgxpool.Pool
	cfg  store.Config

	partMu sync.Mutex
	parts  map[int64]string // month (UTC, as Unix seconds of the 1st) → its partition

	chainMu sync.Mutex
	chains  map[ledger.Chain]chainRow // ledger_chains rows seen; a row never changes
}

var (
	_ store.Backend       = (*DB)(nil)
	_ ledger.AnchorSource = (*DB)(nil)
)

// Open connects to the database at rawURL (a libpq URL or DSN) and, unless
// cfg.SkipMigrate, applies pending migrations. Statements always use the
// extended protocol with bound parameters: the pool refuses the simple
// protocol (CVE-2024-27289).
func Open(ctx context.Context, rawURL string, cfg store.Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres URL %s: %w", store.Redact(rawURL), err)
	}
	switch pc.ConnConfig.DefaultQueryExecMode {
	case pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec:
		return nil, fmt.Errorf("postgres URL %s: default_query_exec_mode %v is refused: statements must be prepared with bound parameters", store.Redact(rawURL), pc.ConnConfig.DefaultQueryExecMode)
	}
	// Append promises durability on return.
	if v := pc.ConnConfig.RuntimeParams["synchronous_commit"]; v == "off" || v == "false" || v == "0" || v == "no" {
		return nil, fmt.Errorf("postgres URL %s: synchronous_commit=%s is refused: ledger appends must be durable when acknowledged", store.Redact(rawURL), v)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "exchange"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("opening postgres pool: %w", classify(ctx, err))
	}
	db := &DB{pool: pool, cfg: cfg, parts: map[int64]string{}, chains: map[ledger.Chain]chainRow{}}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if !cfg.SkipMigrate {
		if _, err := db.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return db, nil
}

// Pool exposes the connection pool (tests, admin tools).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres ping: %w", classify(ctx, err))
	}
	return nil
}

// Schemas returns the registry store over this database.
func (db *DB) Schemas() schemas.Store { return store.NewSchemaStore(&registry{db: db}) }

// classify wraps errors meaning "the database is not there" with
// ledger.ErrUnavailable: network and connect errors, connection-class
// SQLSTATEs (08…), server shutdown (57P01-57P03) and too_many_connections.
// The caller's own cancellation is returned as is.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ledger.ErrUnavailable) {
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", pgErr.Code == "53300":
			return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connErr), errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "connection reset") {
		return fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	return err
}

// retryable reports whether a transaction may simply run again:
// serialization failure, deadlock, or a unique violation lost to a
// concurrent writer.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40001", "40P01", "23505":
			return true
		}
	}
	return false
}

// migrationLockKey serialises migrators across processes (pg_advisory_lock).
const migrationLockKey int64 = 7170366480021437184

func migrations() ([]store.Migration, error) {
	return store.ReadMigrations(migrationFS, "migrations")
}

// Migrate applies pending migrations, each in its own transaction together
// with its schema_migrations row. Concurrent migrators are serialised by a
// session advisory lock; a migrator that waited finds nothing left to do.
// When everything is applied it runs no DDL at all, so a role without
// CREATE rights (the runtime role) can Open a current database.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	pending, err := db.pending(ctx, db.pool, all)
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		if err := db.ensureCurrentPartitions(ctx); err != nil {
			return nil, err
		}
		return nil, nil
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(ctx, err))
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return nil, fmt.Errorf("migrate: taking the migration lock: %w", classify(ctx, err))
	}
	defer func() {
		// A fresh context: the unlock must run even when ctx is done.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); err != nil {
			conn.Conn().Close(uctx) // the session lock dies with the connection
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: creating schema_migrations: %w", classify(ctx, err))
	}
	pending, err = db.pending(ctx, conn, all)
	if err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range pending {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, classify(ctx, err))
		}
		db.cfg.Logger.Info("applied migration", "migration", m.Name)
		applied = append(applied, m.Name)
	}
	if err := db.ensureCurrentPartitions(ctx); err != nil {
		return applied, err
	}
	return applied, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (db *DB) pending(ctx context.Context, q querier, all []store.Migration) ([]store.Migration, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: %w", classify(ctx, err))
	}
	if !exists {
		return all, nil
	}
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading schema_migrations: %w", classify(ctx, err))
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("migrate: reading schema_migrations: %w", classify(ctx, err))
	}
	have := map[int]bool{}
	for _, v := range done {
		have[int(v)] = true
	}
	var out []store.Migration
	for _, m := range all {
		if !have[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}

// ensureCurrentPartitions creates this month's and the next two months'
// ledger partitions, so appends rarely need to create one on the hot path.
func (db *DB) ensureCurrentPartitions(ctx context.Context) error {
	now := db.cfg.Now().UTC()
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if _, err := db.ensurePartition(ctx, first.AddDate(0, i, 0)); err != nil {
			return err
		}
	}
	return nil
}

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ensurePartition makes sure the month partition holding t exists and
// returns its name.
func (db *DB) ensurePartition(ctx context.Context, t time.Time) (string, error) {
	m := monthOf(t)
	db.partMu.Lock()
	name, known := db.parts[m.Unix()]
	db.partMu.Unlock()
	if known {
		return name, nil
	}
	if err := db.pool.QueryRow(ctx, `SELECT exchange_ensure_ledger_partition($1)`, m).Scan(&name); err != nil {
		return "", fmt.Errorf("creating ledger partition for %s: %w", m.Format("2006-01"), classify(ctx, err))
	}
	db.partMu.Lock()
	db.parts[m.Unix()] = name
	db.partMu.Unlock()
	return name, nil
}
