package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// standbyInterval is how often the connector reports its confirmed
// position to the server when nothing else makes it (the server's
// wal_sender_timeout is 60 s by default).
const standbyInterval = 10 * time.Second

// ensurePublication creates the publication (inserts on the outbox table
// only) and the persistent slot when they do not exist.
func (c *Connector) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", c.cfg.Publication).Scan(&exists); err != nil {
		return fmt.Errorf("publication %s: %w", c.cfg.Publication, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{c.cfg.Publication}.Sanitize()+
			" FOR TABLE "+c.tbl+" WITH (publish = 'insert')"); err != nil {
			return fmt.Errorf("creating publication %s (the role must own %s): %w", c.cfg.Publication, c.cfg.Table, err)
		}
		c.log.Info("created publication", "publication", c.cfg.Publication)
	}
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", c.cfg.Slot).Scan(&exists); err != nil {
		return fmt.Errorf("replication slot %s: %w", c.cfg.Slot, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", c.cfg.Slot); err != nil {
			return fmt.Errorf("creating replication slot %s: %w", c.cfg.Slot, err)
		}
		c.log.Info("created replication slot", "slot", c.cfg.Slot)
	}
	return nil
}

// runReplication is mode replication: first the rows still in the table
// are published and deleted the way poll does (rows written before the
// slot existed, or published but not yet deleted when the connector
// stopped), then the slot is streamed from its confirmed position.
func (c *Connector) runReplication(ctx context.Context, progressed *bool) error {
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		return &stageError{stageDatabase, fmt.Errorf("outbox database: %w", err)}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := c.drain(ctx, conn); err != nil {
		return err
	}
	rconn, err := c.startReplication(ctx)
	if err != nil {
		return err
	}
	defer rconn.Close(context.WithoutCancel(ctx))
	s := &stream{c: c, conn: conn, rconn: rconn, progressed: progressed, rel: map[uint32]*pglogrepl.RelationMessage{}}
	return s.run(ctx)
}

// drain publishes the rows in the table up to the highest id present now:
// any row committed later is in the slot's stream.
func (c *Connector) drain(ctx context.Context, conn *pgx.Conn) error {
	var upTo int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM "+c.tbl).Scan(&upTo); err != nil {
		return &stageError{stageDatabase, fmt.Errorf("reading %s: %w", c.cfg.Table, err)}
	}
	for upTo > 0 {
		n, locked, err := c.pollOnce(ctx, conn, upTo)
		switch {
		case err != nil:
			return err
		case !locked:
			if !sleep(ctx, c.cfg.PollInterval) {
				return ctx.Err()
			}
		case n == 0:
			return nil
		}
	}
	return nil
}

// startReplication opens a replication connection and starts streaming
// the slot from its confirmed position. Right after a crash the server may
// still hold the slot for the dead connection's walsender (55006
// object_in_use): that is retried until the server lets go.
func (c *Connector) startReplication(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(c.dsn)
	if err != nil {
		return nil, &stageError{stageReplication, errors.New("outbox database: the URL does not parse")}
	}
	cfg.RuntimeParams["replication"] = "database"
	for {
		rconn, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, &stageError{stageReplication, fmt.Errorf("replication connection: %w", err)}
		}
		err = pglogrepl.StartReplication(ctx, rconn, c.cfg.Slot, 0, pglogrepl.StartReplicationOptions{
			PluginArgs: []string{"proto_version '1'", "publication_names '" + c.cfg.Publication + "'"},
		})
		if err == nil {
			return rconn, nil
		}
		rconn.Close(context.WithoutCancel(ctx))
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			return nil, &stageError{stageReplication, fmt.Errorf("starting replication from slot %s: %w", c.cfg.Slot, err)}
		}
		c.log.Info("replication slot still held by a previous connection; waiting", "slot", c.cfg.Slot)
		if !sleep(ctx, 200*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}
