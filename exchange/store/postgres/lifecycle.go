package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

const selectTransition = `SELECT agreement_id, seq, version, from_status, to_status, by_whom, at, reason, content_hash, valid_until
	FROM agreement_transitions`

func scanTransition(r pgx.CollectableRow) (store.Transition, error) {
	var t store.Transition
	var from, to string
	var until *time.Time
	err := r.Scan(&t.AgreementID, &t.Seq, &t.Version, &from, &to, &t.By, &t.At, &t.Reason, &t.ContentHash, &until)
	t.From, t.To, t.At = agreements.Status(from), agreements.Status(to), t.At.UTC()
	if until != nil {
		t.ValidUntil = until.UTC()
	}
	return t, err
}

func scanApproval(r pgx.CollectableRow) (store.Approval, error) {
	var a store.Approval
	err := r.Scan(&a.AgreementID, &a.Round, &a.Agency, &a.Steward, &a.At, &a.ContentHash)
	a.At = a.At.UTC()
	return a, err
}

// AddTransition records one lifecycle transition (see store.AgreementStore).
func (db *DB) AddTransition(ctx context.Context, t store.Transition) (store.Transition, error) {
	l, err := db.Act(ctx, t.AgreementID, store.ApplyOne(t))
	if err != nil {
		return store.Transition{}, err
	}
	return l.Transitions[len(l.Transitions)-1], nil
}

// Transitions returns an agreement's transitions, oldest first.
func (db *DB) Transitions(ctx context.Context, agreementID string) ([]store.Transition, error) {
	rows, err := db.pool.Query(ctx, selectTransition+` WHERE agreement_id = $1 ORDER BY seq`, agreementID)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s: %w", agreementID, classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, scanTransition)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s: %w", agreementID, classify(ctx, err))
	}
	return out, nil
}

// lifecycle reads an agreement's lifecycle through q (the pool or a transaction).
func lifecycle(ctx context.Context, q pgxQuerier, id string) (store.Lifecycle, error) {
	l := store.Lifecycle{AgreementID: id}
	err := q.QueryRow(ctx, `SELECT version FROM documents WHERE kind = $1 AND id = $2 ORDER BY version DESC LIMIT 1`,
		agreements.KindAgreement, id).Scan(&l.LatestVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, fmt.Errorf("agreement %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return l, err
	}
	rows, err := q.Query(ctx, selectTransition+` WHERE agreement_id = $1 ORDER BY seq`, id)
	if err != nil {
		return l, err
	}
	if l.Transitions, err = pgx.CollectRows(rows, scanTransition); err != nil {
		return l, err
	}
	rows, err = q.Query(ctx, `SELECT agreement_id, round, agency, steward, at, content_hash
		FROM agreement_approvals WHERE agreement_id = $1 ORDER BY round, at, steward`, id)
	if err != nil {
		return l, err
	}
	l.Approvals, err = pgx.CollectRows(rows, scanApproval)
	return l, err
}

type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Lifecycle returns an agreement's lifecycle (see store.LifecycleStore).
func (db *DB) Lifecycle(ctx context.Context, agreementID string) (store.Lifecycle, error) {
	l, err := lifecycle(ctx, db.pool, agreementID)
	if err != nil {
		return store.Lifecycle{}, fmt.Errorf("lifecycle of agreement %s: %w", agreementID, classify(ctx, err))
	}
	return l, nil
}

// Act runs one lifecycle action under the agreement's advisory lock (see
// store.LifecycleStore): the lock serialises it with PutDocument and every
// other action on the same agreement.
func (db *DB) Act(ctx context.Context, agreementID string, decide func(store.Lifecycle) (store.LifecycleChange, error)) (store.Lifecycle, error) {
	var out store.Lifecycle
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, docLockKey(agreements.KindAgreement, agreementID)); err != nil {
			return err
		}
		l, err := lifecycle(ctx, tx, agreementID)
		if err != nil {
			return err
		}
		c, err := decide(l)
		if err != nil {
			return err
		}
		if c, err = l.Settle(c, db.cfg.Now()); err != nil {
			return err
		}
		for _, a := range c.Approvals {
			if _, err := tx.Exec(ctx, `INSERT INTO agreement_approvals (agreement_id, round, agency, steward, at, content_hash)
				VALUES ($1, $2, $3, $4, $5, $6)`, a.AgreementID, a.Round, a.Agency, a.Steward, a.At, a.ContentHash); err != nil {
				return fmt.Errorf("approval by %s: %w", a.Steward, uniqueConflict(err))
			}
		}
		for _, t := range c.Transitions {
			var until *time.Time
			if !t.ValidUntil.IsZero() {
				until = &t.ValidUntil
			}
			if _, err := tx.Exec(ctx, `INSERT INTO agreement_transitions (agreement_id, seq, version, from_status, to_status, by_whom, at, reason, content_hash, valid_until)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, t.AgreementID, t.Seq, t.Version, string(t.From), string(t.To), t.By, t.At, t.Reason, t.ContentHash, until); err != nil {
				return fmt.Errorf("transition %d: %w", t.Seq, uniqueConflict(err))
			}
		}
		l.Approvals, l.Transitions = append(l.Approvals, c.Approvals...), append(l.Transitions, c.Transitions...)
		out = l
		return nil
	})
	if err != nil {
		return store.Lifecycle{}, fmt.Errorf("lifecycle action on agreement %s: %w", agreementID, classify(ctx, err))
	}
	return out, nil
}

// uniqueConflict turns a unique violation (the same steward approving the
// same round twice, racing writers) into store.ErrConflict.
func uniqueConflict(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// AgreementStates returns every agreement's latest transition: one scan of
// the primary key (agreement_id, seq), polled by every worker's kill switch.
func (db *DB) AgreementStates(ctx context.Context) ([]store.AgreementState, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (agreement_id) agreement_id, to_status, content_hash, version, valid_until, at
		FROM agreement_transitions ORDER BY agreement_id, seq DESC`)
	if err != nil {
		return nil, fmt.Errorf("agreement states: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AgreementState, error) {
		var s store.AgreementState
		var status string
		var until *time.Time
		err := r.Scan(&s.ID, &status, &s.ContentHash, &s.Version, &until, &s.Changed)
		s.Status, s.Changed = agreements.Status(status), s.Changed.UTC()
		if until != nil {
			s.ValidUntil = until.UTC()
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("agreement states: %w", classify(ctx, err))
	}
	return out, nil
}
