package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RecordVerification appends v's chains (see store.Verifications), in one
// transaction.
func (db *DB) RecordVerification(ctx context.Context, v store.Verification) error {
	if len(v.Chains) == 0 {
		return nil
	}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		for _, c := range v.Chains {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_verifications (verified_at_us, verified_by, topic, partition, entries, ok, first_break)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, v.At.UnixMicro(), v.By, c.Topic, c.Partition, c.Entries, c.OK, c.FirstBreak); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording the verification by %s: %w", v.By, err)
	}
	return nil
}

// LatestVerifications returns the newest recorded result of every chain
// (the newest id of each chain from the index).
func (db *DB) LatestVerifications(ctx context.Context) ([]store.ChainVerification, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT v.topic, v.partition, v.verified_by, v.verified_at_us, v.entries, v.ok, v.first_break
		FROM ledger_verifications v
		JOIN (SELECT max(id) AS id FROM ledger_verifications GROUP BY topic, partition) n ON n.id = v.id
		ORDER BY v.topic, v.partition`)
	if err != nil {
		return nil, fmt.Errorf("reading verifications: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.ChainVerification
	for rows.Next() {
		var c store.ChainVerification
		var at int64
		if err := rows.Scan(&c.Topic, &c.Partition, &c.By, &at, &c.Entries, &c.OK, &c.FirstBreak); err != nil {
			return nil, fmt.Errorf("reading verifications: %w", err)
		}
		c.At = time.UnixMicro(at).UTC()
		out = append(out, c)
	}
	return out, classify(ctx, rows.Err())
}
