package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddSkips adds per-reason daily skip counts (see sla.SkipStore), in one
// transaction sent as one batch.
func (db *DB) AddSkips(ctx context.Context, rows []sla.SkipDaily) error {
	if len(rows) == 0 {
		return nil
	}
	var b pgx.Batch
	for i := range rows {
		r := &rows[i]
		b.Queue(`INSERT INTO sla_daily_skips (day, dataset, agreement, reason, skipped) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (day, dataset, agreement, reason) DO UPDATE SET skipped = sla_daily_skips.skipped + excluded.skipped`,
			r.Day, r.Dataset, r.Agreement, r.Reason, r.Skipped)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("adding skip aggregates: %w", classify(ctx, err))
	}
	return nil
}

// Skips returns the per-reason daily skip counts of q.
func (db *DB) Skips(ctx context.Context, q sla.DailyQuery) ([]sla.SkipDaily, error) {
	where, args := store.DailyWhere(q, func(n int) string { return fmt.Sprintf("$%d", n) })
	rows, err := db.pool.Query(ctx, `SELECT day, dataset, agreement, reason, skipped FROM sla_daily_skips`+where+
		` ORDER BY day, dataset, agreement, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading skip aggregates: %w", classify(ctx, err))
	}
	var out []sla.SkipDaily
	var r sla.SkipDaily
	_, err = pgx.ForEachRow(rows, []any{&r.Day, &r.Dataset, &r.Agreement, &r.Reason, &r.Skipped}, func() error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading skip aggregates: %w", classify(ctx, err))
	}
	return out, nil
}
