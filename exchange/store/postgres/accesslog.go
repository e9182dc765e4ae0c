package postgres

import (
	"context"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RecordAccess appends a to the access log.
func (db *DB) RecordAccess(ctx context.Context, a store.Access) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO access_log (at_us, who, purpose, query) VALUES ($1, $2, $3, $4)`,
		a.At.UnixMicro(), a.Who, a.Purpose, a.Query); err != nil {
		return fmt.Errorf("recording an access of %s: %w", a.Who, classify(ctx, err))
	}
	return nil
}

// Accesses returns the last limit accesses, newest first.
func (db *DB) Accesses(ctx context.Context, limit int) ([]store.Access, error) {
	rows, err := db.pool.Query(ctx, `SELECT at_us, who, purpose, query FROM access_log ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the access log: %w", classify(ctx, err))
	}
	defer rows.Close()
	return store.ReadAccesses(ctx, rows, classify)
}
