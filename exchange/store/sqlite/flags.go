package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// insertFlags inserts flags (ledger.CleanFlag applied) in tx. A flag
// without a topic (FlagMalformed) has no entry position: offset is NULL.
func insertFlags(ctx context.Context, tx *sql.Tx, flags []ledger.Flag) error {
	st, err := tx.PrepareContext(ctx, `INSERT INTO ledger_flags (topic, partition, "offset", reason, detail, entry, flagged_at_us)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("recording flags: %w", err)
	}
	defer st.Close()
	for _, f := range flags {
		f = ledger.CleanFlag(f)
		var off any
		if f.Topic != "" {
			off = f.Offset
		}
		if _, err := st.ExecContext(ctx, f.Topic, f.Partition, off, f.Reason, f.Detail, blob(f.Entry), f.FlaggedAt.UnixMicro()); err != nil {
			return fmt.Errorf("recording the %s flag of %s/%d@%d: %w", f.Reason, f.Topic, f.Partition, f.Offset, err)
		}
	}
	return nil
}

// RecordFlags implements ledger.Index: flags found outside Index, in one
// transaction; a zero FlaggedAt is the store's clock.
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
	if err := db.withTx(ctx, func(tx *sql.Tx) error { return insertFlags(ctx, tx, fs) }); err != nil {
		return fmt.Errorf("recording %d ledger flags: %w", len(flags), err)
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
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM ledger_flags`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("counting ledger flags: %w", classify(ctx, err))
	}
	rows, err := db.r.QueryContext(ctx, `SELECT topic, partition, "offset", reason, detail, entry, flagged_at_us
		FROM ledger_flags ORDER BY flagged_at_us DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("listing ledger flags: %w", classify(ctx, err))
	}
	defer rows.Close()
	out := []ledger.Flag{}
	for rows.Next() {
		var (
			f   ledger.Flag
			off sql.NullInt64
			at  int64
		)
		if err := rows.Scan(&f.Topic, &f.Partition, &off, &f.Reason, &f.Detail, &f.Entry, &at); err != nil {
			return nil, 0, fmt.Errorf("listing ledger flags: %w", err)
		}
		f.Offset, f.FlaggedAt = off.Int64, time.UnixMicro(at).UTC()
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("listing ledger flags: %w", classify(ctx, err))
	}
	return out, total, nil
}
