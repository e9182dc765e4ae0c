package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/exchange-gov/exchange/exchange/store"
)

// AddAccessRequest stores a pending access request (see store.AccessRequests).
func (db *DB) AddAccessRequest(ctx context.Context, r store.AccessRequest) (store.AccessRequest, error) {
	r, body, err := store.PrepareAccessRequest(r, db.cfg.Now())
	if err != nil {
		return r, err
	}
	if err := db.pool.QueryRow(ctx, `INSERT INTO access_requests (dataset, provider, consumer, status, at_us, body) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		r.Dataset, r.Provider, r.Consumer, string(r.Status), r.Requested.UnixMicro(), body).Scan(&r.ID); err != nil {
		return store.AccessRequest{}, fmt.Errorf("storing an access request for %s: %w", r.Dataset, classify(ctx, err))
	}
	return r, nil
}

// AccessRequest returns one access request.
func (db *DB) AccessRequest(ctx context.Context, id int64) (store.AccessRequest, error) {
	return accessRequest(ctx, db.pool, id, "")
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// accessRequest reads one request; lock is "" or " FOR UPDATE".
func accessRequest(ctx context.Context, q rowQuerier, id int64, lock string) (store.AccessRequest, error) {
	var body string
	err := q.QueryRow(ctx, `SELECT body FROM access_requests WHERE id = $1`+lock, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx, `SELECT id, body FROM access_requests WHERE $1 = '' OR provider = $1 OR consumer = $1
		ORDER BY id DESC LIMIT $2`, q.Agency, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("listing access requests: %w", classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AccessRequest, error) {
		var id int64
		var body string
		if err := r.Scan(&id, &body); err != nil {
			return store.AccessRequest{}, err
		}
		return store.ParseAccessRequest(id, body)
	})
	if err != nil {
		return nil, fmt.Errorf("listing access requests: %w", classify(ctx, err))
	}
	return out, nil
}

// DecideAccessRequest records a decision on a pending request; the row is
// locked, so of two concurrent decisions the second sees the first.
func (db *DB) DecideAccessRequest(ctx context.Context, d store.AccessDecision) (store.AccessRequest, error) {
	var out store.AccessRequest
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		r, err := accessRequest(ctx, tx, d.ID, " FOR UPDATE")
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
		var agreement *string
		if out.Agreement != "" {
			agreement = &out.Agreement
		}
		_, err = tx.Exec(ctx, `UPDATE access_requests SET status = $1, agreement = $2, body = $3 WHERE id = $4`,
			string(out.Status), agreement, body, out.ID)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return fmt.Errorf("agreement %s was proposed for another request: %w", out.Agreement, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("deciding access request %d: %w", d.ID, classify(ctx, err))
	}
	return out, nil
}
