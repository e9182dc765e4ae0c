package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/store"
)

// ClaimIngestKey claims k unless a live entry holds its principal and key
// (store.IngestKeys). The primary key decides between concurrent claims.
func (db *DB) ClaimIngestKey(ctx context.Context, k store.IngestKey, now time.Time) (store.IngestKey, bool, error) {
	return store.ClaimIngestKey(k, store.IngestKeySQL{
		Free: func() error {
			_, err := db.pool.Exec(ctx, `DELETE FROM ingest_idempotency WHERE principal = $1 AND idem_key = $2
				AND (expires_us <= $3 OR (status = 0 AND locked_until_us <= $3))`, k.Principal, k.Key, now.UnixMicro())
			return classify(ctx, err)
		},
		Insert: func() (bool, error) {
			tag, err := db.pool.Exec(ctx, `INSERT INTO ingest_idempotency
				(principal, idem_key, request_hash, status, created_us, expires_us, locked_until_us)
				VALUES ($1, $2, $3, 0, $4, $5, $6) ON CONFLICT (principal, idem_key) DO NOTHING`,
				k.Principal, k.Key, k.RequestHash, k.Created.UnixMicro(), k.Expires.UnixMicro(), k.LockedUntil.UnixMicro())
			return err == nil && tag.RowsAffected() == 1, classify(ctx, err)
		},
		Read: func() (store.IngestKey, bool, error) {
			prior := store.IngestKey{Principal: k.Principal, Key: k.Key}
			var created, expires, locked int64
			err := db.pool.QueryRow(ctx, `SELECT request_hash, status, body, created_us, expires_us, locked_until_us
				FROM ingest_idempotency WHERE principal = $1 AND idem_key = $2`, k.Principal, k.Key).
				Scan(&prior.RequestHash, &prior.Status, &prior.Body, &created, &expires, &locked)
			if errors.Is(err, pgx.ErrNoRows) {
				return prior, false, nil
			}
			prior.FromMicros(created, expires, locked)
			return prior, err == nil, classify(ctx, err)
		},
	})
}

// AnswerIngestKey records the answer of a claimed key.
func (db *DB) AnswerIngestKey(ctx context.Context, principal, key string, status int, body []byte) error {
	if _, err := db.pool.Exec(ctx, `UPDATE ingest_idempotency SET status = $1, body = $2 WHERE principal = $3 AND idem_key = $4`,
		status, body, principal, key); err != nil {
		return fmt.Errorf("recording the answer of an idempotency key of %s: %w", principal, classify(ctx, err))
	}
	return nil
}

// ReleaseIngestKey deletes an unanswered claim.
func (db *DB) ReleaseIngestKey(ctx context.Context, principal, key string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM ingest_idempotency WHERE principal = $1 AND idem_key = $2 AND status = 0`,
		principal, key); err != nil {
		return fmt.Errorf("releasing an idempotency key of %s: %w", principal, classify(ctx, err))
	}
	return nil
}

// PurgeIngestKeys deletes the entries expired at now.
func (db *DB) PurgeIngestKeys(ctx context.Context, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM ingest_idempotency WHERE expires_us <= $1`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("purging expired idempotency keys: %w", classify(ctx, err))
	}
	return tag.RowsAffected(), nil
}
