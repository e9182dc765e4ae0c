package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddReasons adds per-reason daily counts (see sla.ReasonStore), in one
// transaction sent as one batch.
func (db *DB) AddReasons(ctx context.Context, rows []sla.ReasonDaily) error {
	if len(rows) == 0 {
		return nil
	}
	var b pgx.Batch
	for i := range rows {
		r := &rows[i]
		b.Queue(`INSERT INTO sla_daily_reasons (day, dataset, reason, quarantined, warned) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (day, dataset, reason) DO UPDATE SET quarantined = sla_daily_reasons.quarantined + excluded.quarantined,
				warned = sla_daily_reasons.warned + excluded.warned`,
			r.Day, r.Dataset, r.Reason, r.Quarantined, r.Warned)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("adding reason aggregates: %w", classify(ctx, err))
	}
	return nil
}

// Reasons returns the per-reason daily counts of q.
func (db *DB) Reasons(ctx context.Context, q sla.DailyQuery) ([]sla.ReasonDaily, error) {
	q.Agreement = ""
	where, args := store.DailyWhere(q, func(n int) string { return fmt.Sprintf("$%d", n) })
	rows, err := db.pool.Query(ctx, `SELECT day, dataset, reason, quarantined, warned FROM sla_daily_reasons`+where+
		` ORDER BY day, dataset, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading reason aggregates: %w", classify(ctx, err))
	}
	var out []sla.ReasonDaily
	var r sla.ReasonDaily
	_, err = pgx.ForEachRow(rows, []any{&r.Day, &r.Dataset, &r.Reason, &r.Quarantined, &r.Warned}, func() error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading reason aggregates: %w", classify(ctx, err))
	}
	return out, nil
}
