package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RecordVerification appends v's chains (see store.Verifications), in one
// transaction sent as one batch.
func (db *DB) RecordVerification(ctx context.Context, v store.Verification) error {
	if len(v.Chains) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, c := range v.Chains {
		b.Queue(`INSERT INTO ledger_verifications (verified_at, verified_by, topic, partition, entries, ok, first_break)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, v.At.UTC(), v.By, c.Topic, c.Partition, c.Entries, c.OK, c.FirstBreak)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &b).Close() })
	if err != nil {
		return fmt.Errorf("recording the verification by %s: %w", v.By, classify(ctx, err))
	}
	return nil
}

// LatestVerifications returns the newest recorded result of every chain.
func (db *DB) LatestVerifications(ctx context.Context) ([]store.ChainVerification, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (topic, partition) topic, partition, verified_by, verified_at, entries, ok, first_break
		FROM ledger_verifications ORDER BY topic, partition, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("reading verifications: %w", classify(ctx, err))
	}
	var out []store.ChainVerification
	var c store.ChainVerification
	_, err = pgx.ForEachRow(rows, []any{&c.Topic, &c.Partition, &c.By, &c.At, &c.Entries, &c.OK, &c.FirstBreak}, func() error {
		c.At = c.At.UTC()
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading verifications: %w", classify(ctx, err))
	}
	return out, nil
}
