package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// queueFlags queues the inserts of flags (ledger.CleanFlag applied). A flag
// without a topic (FlagMalformed) has no entry position: offset is NULL.
func queueFlags(q *pgx.Batch, flags []ledger.Flag) {
	for _, f := range flags {
		f = ledger.CleanFlag(f)
		var off *int64
		if f.Topic != "" {
			off = &f.Offset
		}
		q.Queue(`INSERT INTO ledger_flags (topic, partition, "offset", reason, detail, entry, flagged_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, f.Topic, f.Partition, off, f.Reason, f.Detail, f.Entry, f.FlaggedAt)
	}
}

// RecordFlags implements ledger.Index: flags found outside Index, in one
// transaction sent as one batch; a zero FlaggedAt is the store's clock.
func (db *DB) RecordFlags(ctx context.Context, flags []ledger.Flag) error {
	if len(flags) == 0 {
		return nil
	}
	now := db.cfg.Now().UTC()
	fs := make([]ledger.Flag, len(flags))
	for i, f := range flags {
		if f.FlaggedAt.IsZero() {
			f.FlaggedAt = now
		}
		fs[i] = f
	}
	var q pgx.Batch
	queueFlags(&q, fs)
	if err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &q).Close() }); err != nil {
		return fmt.Errorf("recording %d ledger flags: %w", len(flags), classify(ctx, err))
	}
	return nil
}

// Flags implements ledger.FlagReader: newest first (the ledger_flags_newest
// index), and the count of all.
func (db *DB) Flags(ctx context.Context, limit int) ([]ledger.Flag, int64, error) {
	if err := ledger.CheckFlagsLimit(limit); err != nil {
		return nil, 0, err
	}
	var total int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_flags`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting ledger flags: %w", classify(ctx, err))
	}
	rows, err := db.pool.Query(ctx, `SELECT topic, partition, "offset", reason, detail, entry, flagged_at
		FROM ledger_flags ORDER BY flagged_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("listing ledger flags: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ledger.Flag, error) {
		var (
			f   ledger.Flag
			off *int64
		)
		if err := r.Scan(&f.Topic, &f.Partition, &off, &f.Reason, &f.Detail, &f.Entry, &f.FlaggedAt); err != nil {
			return f, err
		}
		if off != nil {
			f.Offset = *off
		}
		f.FlaggedAt = f.FlaggedAt.UTC()
		return f, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("listing ledger flags: %w", classify(ctx, err))
	}
	return out, total, nil
}
