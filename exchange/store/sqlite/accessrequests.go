package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/store"
)

// AddAccessRequest stores a pending access request (see store.AccessRequests).
func (db *DB) AddAccessRequest(ctx context.Context, r store.AccessRequest) (store.AccessRequest, error) {
	r, body, err := store.PrepareAccessRequest(r, db.cfg.Now())
	if err != nil {
		return r, err
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO access_requests (dataset, provider, consumer, status, at_us, body) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Dataset, r.Provider, r.Consumer, string(r.Status), r.Requested.UnixMicro(), body)
	if err == nil {
		r.ID, err = res.LastInsertId()
	}
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("storing an access request for %s: %w", r.Dataset, classify(ctx, err))
	}
	return r, nil
}

// AccessRequest returns one access request.
func (db *DB) AccessRequest(ctx context.Context, id int64) (store.AccessRequest, error) {
	return accessRequest(ctx, db.r, id)
}

func accessRequest(ctx context.Context, q querier, id int64) (store.AccessRequest, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM access_requests WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AccessRequest{}, fmt.Errorf("access request %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("reading access request %d: %w", id, classify(ctx, err))
	}
	return store.ParseAccessRequest(id, body)
}

// AccessRequests returns the requests of q, newest first.
func (db *DB) AccessRequests(ctx context.Context, q store.AccessRequestQuery) ([]store.AccessRequest, error) {
	q = store.NormalizeAccessRequestQuery(q)
	rows, err := db.r.QueryContext(ctx, `SELECT id, body FROM access_requests WHERE ?1 = '' OR provider = ?1 OR consumer = ?1
		ORDER BY id DESC LIMIT ?2`, q.Agency, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing access requests: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.AccessRequest
	for rows.Next() {
		var id int64
		var body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		r, err := store.ParseAccessRequest(id, body)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, classify(ctx, rows.Err())
}

// DecideAccessRequest records a decision on a pending request.
func (db *DB) DecideAccessRequest(ctx context.Context, d store.AccessDecision) (store.AccessRequest, error) {
	var out store.AccessRequest
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		r, err := accessRequest(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		if out, err = store.ApplyAccessDecision(r, d, db.cfg.Now()); err != nil {
			return err
		}
		body, err := store.AccessRequestBody(out)
		if err != nil {
			return err
		}
		var agreement any
		if out.Agreement != "" {
			agreement = out.Agreement
		}
		res, err := tx.ExecContext(ctx, `UPDATE access_requests SET status = ?, agreement = ?, body = ? WHERE id = ? AND status = 'pending'`,
			string(out.Status), agreement, body, out.ID)
		if err != nil {
			if isConstraint(err) {
				return fmt.Errorf("agreement %s was proposed for another request: %w", out.Agreement, store.ErrConflict)
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("access request %d was decided meanwhile: %w", d.ID, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("deciding access request %d: %w", d.ID, classify(ctx, err))
	}
	return out, nil
}
