package outbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The SQL of the outbox and dead-letter tables (their shapes: the package
// doc). Table names are validated by Config.Validate and quoted here.

// quoteTable quotes a table name, optionally schema-qualified.
func quoteTable(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }

// selectRows locks and reads the next batch of rows in id order; with
// upTo > 0 only rows with id <= upTo.
func (c *Connector) selectRows(ctx context.Context, tx pgx.Tx, upTo int64) ([]Row, error) {
	rs, err := tx.Query(ctx, `SELECT id, dataset, payload::text, created_at FROM `+c.tbl+`
		WHERE $2::bigint = 0 OR id <= $2 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, c.cfg.BatchSize, upTo)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.cfg.Table, err)
	}
	rows, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (Row, error) {
		var row Row
		var payload string
		err := r.Scan(&row.ID, &row.Dataset, &payload, &row.CreatedAt)
		row.Payload = []byte(payload)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.cfg.Table, err)
	}
	return rows, nil
}

// finish stores the dead letters of a published batch and deletes the
// batch's rows from the outbox, through q (a transaction in poll mode).
// Dead letters are kept on a retry (ON CONFLICT: the first error stays).
func (c *Connector) finish(ctx context.Context, q interface {
	SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
}, rows []Row, dead []deadRow) error {
	b := &pgx.Batch{}
	for _, d := range dead {
		b.Queue(`INSERT INTO `+c.dead+` (id, dataset, payload, created_at, error) VALUES ($1, $2, $3::jsonb, $4, $5)
			ON CONFLICT (id) DO NOTHING`, d.ID, d.Dataset, string(d.Payload), d.CreatedAt, d.Err.Error())
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	b.Queue(`DELETE FROM `+c.tbl+` WHERE id = ANY($1)`, ids)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return &stageError{stageDatabase, fmt.Errorf("storing dead letters and deleting published rows of %s: %w", c.cfg.Table, err)}
	}
	return nil
}
