package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// AddReasons adds per-reason daily counts (see sla.ReasonStore), in one
// transaction.
func (db *DB) AddReasons(ctx context.Context, rows []sla.ReasonDaily) error {
	if len(rows) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for i := range rows {
			r := &rows[i]
			if _, err := tx.ExecContext(ctx, `INSERT INTO sla_daily_reasons (day, dataset, reason, quarantined, warned) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (day, dataset, reason) DO UPDATE SET quarantined = quarantined + excluded.quarantined,
					warned = warned + excluded.warned`, r.Day, r.Dataset, r.Reason, r.Quarantined, r.Warned); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding reason aggregates: %w", err)
	}
	return nil
}

// Reasons returns the per-reason daily counts of q.
func (db *DB) Reasons(ctx context.Context, q sla.DailyQuery) ([]sla.ReasonDaily, error) {
	q.Agreement = ""
	where, args := store.DailyWhere(q, func(int) string { return "?" })
	rows, err := db.r.QueryContext(ctx, `SELECT day, dataset, reason, quarantined, warned FROM sla_daily_reasons`+where+
		` ORDER BY day, dataset, reason`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading reason aggregates: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []sla.ReasonDaily
	for rows.Next() {
		var r sla.ReasonDaily
		if err := rows.Scan(&r.Day, &r.Dataset, &r.Reason, &r.Quarantined, &r.Warned); err != nil {
			return nil, fmt.Errorf("reading reason aggregates: %w", err)
		}
		out = append(out, r)
	}
	return out, classify(ctx, rows.Err())
}
