package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddSkips adds per-reason daily skip counts (see sla.SkipStore), in one
// transaction.
func (db *DB) AddSkips(ctx context.Context, rows []sla.SkipDaily) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for i := range rows {
			r := &rows[i]
			if _, err := tx.ExecContext(ctx, `INSERT INTO sla_daily_skips (day, dataset, agreement, reason, skipped) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (day, dataset, agreement, reason) DO UPDATE SET skipped = skipped + excluded.skipped`,
				r.Day, r.Dataset, r.Agreement, r.Reason, r.Skipped); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding skip aggregates: %w", err)
	}
	return nil
}

// Skips returns the per-reason daily skip counts of q.
func (db *DB) Skips(ctx context.Context, q sla.DailyQuery) ([]sla.SkipDaily, error) {
	where, args := store.DailyWhere(q, func(int) string { return "?" })
	rows, err := db.r.QueryContext(ctx, `SELECT day, dataset, agreement, reason, skipped FROM sla_daily_skips`+where+
		` ORDER BY day, dataset, agreement, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading skip aggregates: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []sla.SkipDaily
	for rows.Next() {
		var r sla.SkipDaily
		if err := rows.Scan(&r.Day, &r.Dataset, &r.Agreement, &r.Reason, &r.Skipped); err != nil {
			return nil, fmt.Errorf("reading skip aggregates: %w", err)
		}
		out = append(out, r)
	}
	return out, classify(ctx, rows.Err())
}
