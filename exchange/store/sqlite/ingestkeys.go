package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
)

// ClaimIngestKey claims k unless a live entry holds its principal and key
// (store.IngestKeys). The primary key decides between concurrent claims.
func (db *DB) ClaimIngestKey(ctx context.Context, k store.IngestKey, now time.Time) (store.IngestKey, bool, error) {
	return store.ClaimIngestKey(k, store.IngestKeySQL{
		Free: func() error {
			_, err := db.w.ExecContext(ctx, `DELETE FROM ingest_idempotency WHERE principal = ? AND idem_key = ?
				AND (expires_us <= ? OR (status = 0 AND locked_until_us <= ?))`, k.Principal, k.Key, now.UnixMicro(), now.UnixMicro())
			return classify(ctx, err)
		},
		Insert: func() (bool, error) {
			res, err := db.w.ExecContext(ctx, `INSERT INTO ingest_idempotency
				(principal, idem_key, request_hash, status, created_us, expires_us, locked_until_us)
				VALUES (?, ?, ?, 0, ?, ?, ?) ON CONFLICT (principal, idem_key) DO NOTHING`,
				k.Principal, k.Key, k.RequestHash, k.Created.UnixMicro(), k.Expires.UnixMicro(), k.LockedUntil.UnixMicro())
			if err != nil {
				return false, classify(ctx, err)
			}
			n, err := res.RowsAffected()
			return n == 1, err
		},
		Read: func() (store.IngestKey, bool, error) {
			prior := store.IngestKey{Principal: k.Principal, Key: k.Key}
			var created, expires, locked int64
			err := db.w.QueryRowContext(ctx, `SELECT request_hash, status, body, created_us, expires_us, locked_until_us
				FROM ingest_idempotency WHERE principal = ? AND idem_key = ?`, k.Principal, k.Key).
				Scan(&prior.RequestHash, &prior.Status, &prior.Body, &created, &expires, &locked)
			if errors.Is(err, sql.ErrNoRows) {
				return prior, false, nil
			}
			prior.FromMicros(created, expires, locked)
			return prior, err == nil, classify(ctx, err)
		},
	})
}

// AnswerIngestKey records the answer of a claimed key.
func (db *DB) AnswerIngestKey(ctx context.Context, principal, key string, status int, body []byte) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE ingest_idempotency SET status = ?, body = ? WHERE principal = ? AND idem_key = ?`,
		status, body, principal, key); err != nil {
		return fmt.Errorf("recording the answer of an idempotency key of %s: %w", principal, classify(ctx, err))
	}
	return nil
}

// ReleaseIngestKey deletes an unanswered claim.
func (db *DB) ReleaseIngestKey(ctx context.Context, principal, key string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM ingest_idempotency WHERE principal = ? AND idem_key = ? AND status = 0`,
		principal, key); err != nil {
		return fmt.Errorf("releasing an idempotency key of %s: %w", principal, classify(ctx, err))
	}
	return nil
}

// PurgeIngestKeys deletes the entries expired at now.
func (db *DB) PurgeIngestKeys(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM ingest_idempotency WHERE expires_us <= ?`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("purging expired idempotency keys: %w", classify(ctx, err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}
