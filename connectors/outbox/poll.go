package outbox

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// runPoll is mode poll: publish batches until ctx is done or a failure;
// progressed is set once a batch was committed.
func (c *Connector) runPoll(ctx context.Context, progressed *bool) error {
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return &stageError{stageDatabase, fmt.Errorf("outbox database: %w", err)}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		n, _, err := c.pollOnce(ctx, conn, 0)
		if err != nil {
			return err
		}
		if n > 0 {
			*progressed = true
			continue
		}
		if !sleep(ctx, c.cfg.PollInterval) {
			return ctx.Err()
		}
	}
}

// pollOnce publishes one batch (rows with id <= upTo when upTo > 0) and, in
// the same transaction, after Kafka acknowledged it, stores its dead
// letters and deletes it. n is the rows handled; locked is false when
// another poller of the table holds its advisory lock (nothing done): one
// poller at a time keeps the order per key.
func (c *Connector) pollOnce(ctx context.Context, conn *pgx.Conn, upTo int64) (n int, locked bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, false, &stageError{stageDatabase, fmt.Errorf("outbox database: %w", err)}
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock(hashtext($1))", "exchange-outbox:"+c.cfg.Table).Scan(&locked); err != nil {
		return 0, false, &stageError{stageDatabase, fmt.Errorf("outbox database: poller lock: %w", err)}
	}
	if !locked {
		return 0, false, nil
	}
	rows, err := c.selectRows(ctx, tx, upTo)
	if err != nil {
		return 0, true, wrapDB(err)
	}
	if len(rows) == 0 {
		c.m.caughtUp()
		return 0, true, nil
	}
	c.m.waiting(rows)
	dead, err := c.pub.publish(ctx, rows)
	if err != nil {
		return 0, true, err
	}
	if c.afterPublish != nil {
		c.afterPublish("table")
	}
	if err := c.finish(ctx, tx, rows, dead); err != nil {
		return 0, true, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, true, &stageError{stageDatabase, fmt.Errorf("committing a published batch of %s: %w", c.cfg.Table, err)}
	}
	c.m.caughtUp() // until the next batch is read
	c.pub.observe(dead)
	return len(rows), true, nil
}

func wrapDB(err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stageDatabase, err}
}
