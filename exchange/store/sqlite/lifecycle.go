package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

const selectTransition = `SELECT agreement_id, seq, version, from_status, to_status, by_whom, at_us, reason, content_hash, valid_until_us
	FROM agreement_transitions`

func scanTransition(r scanner) (store.Transition, error) {
	var t store.Transition
	var from, to string
	var at, until int64
	err := r.Scan(&t.AgreementID, &t.Seq, &t.Version, &from, &to, &t.By, &at, &t.Reason, &t.ContentHash, &until)
	t.From, t.To, t.At, t.ValidUntil = agreements.Status(from), agreements.Status(to), time.UnixMicro(at).UTC(), fromMicros(until)
	return t, err
}

func scanApproval(r scanner) (store.Approval, error) {
	var a store.Approval
	var at int64
	err := r.Scan(&a.AgreementID, &a.Round, &a.Agency, &a.Steward, &at, &a.ContentHash)
	a.At = time.UnixMicro(at).UTC()
	return a, err
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func toMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// collect runs a query through q and scans every row with scan.
func collect[T any](ctx context.Context, q querier, scan func(scanner) (T, error), sqlText string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, classify(ctx, rows.Err())
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
	out, err := collect(ctx, db.r, scanTransition, selectTransition+` WHERE agreement_id = ? ORDER BY seq`, agreementID)
	if err != nil {
		return nil, fmt.Errorf("transitions of %s: %w", agreementID, err)
	}
	return out, nil
}

// lifecycle reads an agreement's lifecycle through q (the reader pool or a transaction).
func lifecycle(ctx context.Context, q querier, id string) (store.Lifecycle, error) {
	l := store.Lifecycle{AgreementID: id}
	err := q.QueryRowContext(ctx, `SELECT version FROM documents WHERE kind = ? AND id = ? ORDER BY version DESC LIMIT 1`,
		agreements.KindAgreement, id).Scan(&l.LatestVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return l, fmt.Errorf("agreement %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return l, classify(ctx, err)
	}
	if l.Transitions, err = collect(ctx, q, scanTransition, selectTransition+` WHERE agreement_id = ? ORDER BY seq`, id); err != nil {
		return l, err
	}
	l.Approvals, err = collect(ctx, q, scanApproval, `SELECT agreement_id, round, agency, steward, at_us, content_hash
		FROM agreement_approvals WHERE agreement_id = ? ORDER BY round, at_us, steward`, id)
	return l, err
}

// Lifecycle returns an agreement's lifecycle (see store.LifecycleStore).
func (db *DB) Lifecycle(ctx context.Context, agreementID string) (store.Lifecycle, error) {
	l, err := lifecycle(ctx, db.r, agreementID)
	if err != nil {
		return store.Lifecycle{}, fmt.Errorf("lifecycle of agreement %s: %w", agreementID, err)
	}
	return l, nil
}

// Act runs one lifecycle action in a write transaction (see
// store.LifecycleStore); the one writer connection serialises actions.
func (db *DB) Act(ctx context.Context, agreementID string, decide func(store.Lifecycle) (store.LifecycleChange, error)) (store.Lifecycle, error) {
	var out store.Lifecycle
	err := db.withTx(ctx, func(tx *sql.Tx) error {
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
			if _, err := tx.ExecContext(ctx, `INSERT INTO agreement_approvals (agreement_id, round, agency, steward, at_us, content_hash)
				VALUES (?, ?, ?, ?, ?, ?)`, a.AgreementID, a.Round, a.Agency, a.Steward, a.At.UnixMicro(), a.ContentHash); err != nil {
				return fmt.Errorf("approval by %s: %w", a.Steward, constraintConflict(err))
			}
		}
		for _, t := range c.Transitions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO agreement_transitions (agreement_id, seq, version, from_status, to_status, by_whom, at_us, reason, content_hash, valid_until_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.AgreementID, t.Seq, t.Version, string(t.From), string(t.To), t.By, t.At.UnixMicro(), t.Reason, t.ContentHash, toMicros(t.ValidUntil)); err != nil {
				return fmt.Errorf("transition %d: %w", t.Seq, constraintConflict(err))
			}
		}
		l.Approvals, l.Transitions = append(l.Approvals, c.Approvals...), append(l.Transitions, c.Transitions...)
		out = l
		return nil
	})
	if err != nil {
		return store.Lifecycle{}, fmt.Errorf("lifecycle action on agreement %s: %w", agreementID, err)
	}
	return out, nil
}

func constraintConflict(err error) error {
	if isConstraint(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// AgreementStates returns every agreement's latest transition, found
// through the primary key (agreement_id, seq); the kill switch polls it.
func (db *DB) AgreementStates(ctx context.Context) ([]store.AgreementState, error) {
	out, err := collect(ctx, db.r, func(r scanner) (store.AgreementState, error) {
		var s store.AgreementState
		var status string
		var until, at int64
		err := r.Scan(&s.ID, &status, &s.ContentHash, &s.Version, &until, &at)
		s.Status, s.ValidUntil, s.Changed = agreements.Status(status), fromMicros(until), time.UnixMicro(at).UTC()
		return s, err
	}, `SELECT agreement_id, to_status, content_hash, version, valid_until_us, at_us FROM agreement_transitions t
		WHERE seq = (SELECT max(seq) FROM agreement_transitions m WHERE m.agreement_id = t.agreement_id) ORDER BY agreement_id`)
	if err != nil {
		return nil, fmt.Errorf("agreement states: %w", err)
	}
	return out, nil
}
