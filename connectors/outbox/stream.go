package outbox

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
)

// stream reads one replication connection: committed inserts are collected
// into a batch, published when the batch is full or the stream goes idle,
// and only then is the slot's position confirmed past them.
type stream struct {
	c          *Connector
	conn       *pgx.Conn      // ordinary connection: dead letters, deletes
	rconn      *pgconn.PgConn // replication connection
	progressed *bool
	rel        map[uint32]*pglogrepl.RelationMessage
	types      *pgtype.Map

	inTx       bool
	tx         []Row         // inserts of the open transaction
	pending    []Row         // rows of committed transactions, not yet published
	pendingEnd pglogrepl.LSN // end of the last committed transaction seen
	confirmed  pglogrepl.LSN // the slot may forget everything before this
}

func (s *stream) run(ctx context.Context) error {
	s.types = pgtype.NewMap()
	nextStatus := time.Now()
	for {
		if !time.Now().Before(nextStatus) {
			if err := s.status(ctx); err != nil {
				return err
			}
			nextStatus = time.Now().Add(standbyInterval)
		}
		deadline := nextStatus
		if idle := time.Now().Add(defaultReplicationIdle); len(s.pending) > 0 && idle.Before(deadline) {
			deadline = idle
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := s.rconn.ReceiveMessage(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && pgconn.Timeout(err):
			if err := s.flush(ctx); err != nil {
				return err
			}
			continue
		case err != nil:
			return &stageError{stageReplication, fmt.Errorf("replication stream: %w", err)}
		}
		replyNow, err := s.handle(msg)
		if err != nil {
			return err
		}
		if len(s.pending) >= s.c.cfg.BatchSize {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
		if replyNow {
			nextStatus = time.Now()
		}
	}
}

// handle takes one message of the stream; replyNow when the server asked
// for a status report.
func (s *stream) handle(msg pgproto3.BackendMessage) (replyNow bool, err error) {
	switch m := msg.(type) {
	case *pgproto3.ErrorResponse:
		return false, &stageError{stageReplication, fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))}
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return false, nil
		}
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return false, &stageError{stageReplication, fmt.Errorf("keepalive: %w", err)}
			}
			// Nothing of ours is in flight: the slot may move to the
			// server's end, so an idle outbox holds no WAL.
			if !s.inTx && len(s.pending) == 0 && pkm.ServerWALEnd > s.confirmed {
				s.confirmed = pkm.ServerWALEnd
			}
			return pkm.ReplyRequested, nil
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return false, &stageError{stageReplication, fmt.Errorf("XLogData: %w", err)}
			}
			return false, s.logical(xld.WALData)
		}
	}
	return false, nil
}

// logical takes one pgoutput message.
func (s *stream) logical(data []byte) error {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return &stageError{stageReplication, fmt.Errorf("pgoutput message: %w", err)}
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		s.rel[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		s.inTx, s.tx = true, s.tx[:0]
	case *pglogrepl.InsertMessage:
		row, err := s.row(m)
		if err != nil {
			return err
		}
		s.tx = append(s.tx, row)
	case *pglogrepl.CommitMessage:
		s.c.m.waiting(s.tx)
		s.pending = append(s.pending, s.tx...)
		s.pendingEnd = m.TransactionEndLSN
		s.inTx, s.tx = false, s.tx[:0]
		if len(s.pending) == 0 && s.pendingEnd > s.confirmed {
			s.confirmed = s.pendingEnd // a transaction without outbox rows
		}
	}
	return nil
}

// row decodes an insert into the outbox table by column name.
func (s *stream) row(m *pglogrepl.InsertMessage) (Row, error) {
	rel, ok := s.rel[m.RelationID]
	if !ok {
		return Row{}, &stageError{stageReplication, fmt.Errorf("insert into unknown relation %d", m.RelationID)}
	}
	var r Row
	var seen int
	for i, col := range m.Tuple.Columns {
		if i >= len(rel.Columns) || col.DataType != 't' {
			continue
		}
		data := col.Data
		var err error
		switch rel.Columns[i].Name {
		case "id":
			r.ID, err = strconv.ParseInt(string(data), 10, 64)
		case "dataset":
			r.Dataset = string(data)
		case "payload":
			r.Payload = append([]byte(nil), data...)
		case "created_at":
			err = s.types.Scan(rel.Columns[i].DataType, pgtype.TextFormatCode, data, &r.CreatedAt)
		default:
			continue
		}
		if err != nil {
			return Row{}, &stageError{stageReplication, fmt.Errorf("%s.%s column %s: %w", rel.Namespace, rel.RelationName, rel.Columns[i].Name, err)}
		}
		seen++
	}
	if seen != 4 {
		return Row{}, &stageError{stageReplication, fmt.Errorf("insert into %s.%s: want the columns id, dataset, payload, created_at, all set", rel.Namespace, rel.RelationName)}
	}
	return r, nil
}

// flush publishes the pending rows, stores their dead letters and deletes
// them from the outbox, and then confirms the slot past their
// transactions.
func (s *stream) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	dead, err := s.c.pub.publish(ctx, s.pending)
	if err != nil {
		return err
	}
	if s.c.afterPublish != nil {
		s.c.afterPublish("stream")
	}
	if err := s.c.finish(ctx, s.conn, s.pending, dead); err != nil {
		return err
	}
	s.c.m.caughtUp()
	s.c.pub.observe(dead)
	s.confirmed = max(s.confirmed, s.pendingEnd)
	s.pending = s.pending[:0]
	*s.progressed = true
	return s.status(ctx)
}

// status reports the confirmed position: the slot keeps everything after
// it, and a restart resumes there.
func (s *stream) status(ctx context.Context) error {
	if s.confirmed == 0 {
		return nil // nothing confirmed yet: the slot's own position stands
	}
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, s.rconn, pglogrepl.StandbyStatusUpdate{WALWritePosition: s.confirmed}); err != nil {
		return &stageError{stageReplication, fmt.Errorf("confirming position %s: %w", s.confirmed, err)}
	}
	return nil
}
