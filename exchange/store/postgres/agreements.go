package postgres

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

func docLockKey(kind, id string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "exchange.documents\x00%s\x00%s", kind, id)
	return int64(h.Sum64())
}

const selectDoc = `SELECT kind, id, version, status, yaml, hash, author, created_at FROM documents`

func scanDoc(r pgx.CollectableRow) (store.Document, error) {
	var d store.Document
	var status, yaml string
	err := r.Scan(&d.Kind, &d.ID, &d.Version, &status, &yaml, &d.Hash, &d.Author, &d.Created)
	d.Status, d.YAML, d.Created = agreements.Status(status), []byte(yaml), d.Created.UTC()
	return d, err
}

// PutDocument stores the next version of a document (see store.AgreementStore).
func (db *DB) PutDocument(ctx context.Context, d store.Document) (store.Document, error) {
	d, err := store.PrepareDocument(d)
	if err != nil {
		return store.Document{}, err
	}
	var out store.Document
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, docLockKey(d.Kind, d.ID)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, selectDoc+` WHERE kind = $1 AND id = $2 ORDER BY version DESC LIMIT 1`, d.Kind, d.ID)
		if err != nil {
			return err
		}
		latest, err := pgx.CollectRows(rows, scanDoc)
		if err != nil {
			return err
		}
		var insert bool
		if out, insert = store.NextVersion(latest, d, db.cfg.Now()); !insert {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO documents (kind, id, version, status, yaml, hash, author, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, out.Kind, out.ID, out.Version, string(out.Status), string(out.YAML), out.Hash, out.Author, out.Created)
		return err
	})
	if err != nil {
		return store.Document{}, fmt.Errorf("put %s %s: %w", d.Kind, d.ID, classify(ctx, err))
	}
	return out, nil
}

// Document returns one version (0 = latest).
func (db *DB) Document(ctx context.Context, kind, id string, version int) (store.Document, error) {
	sql, args := selectDoc+` WHERE kind = $1 AND id = $2 ORDER BY version DESC LIMIT 1`, []any{kind, id}
	if version > 0 {
		sql, args = selectDoc+` WHERE kind = $1 AND id = $2 AND version = $3`, []any{kind, id, version}
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return store.Document{}, fmt.Errorf("%s %s: %w", kind, id, classify(ctx, err))
	}
	docs, err := pgx.CollectRows(rows, scanDoc)
	if err != nil {
		return store.Document{}, fmt.Errorf("%s %s: %w", kind, id, classify(ctx, err))
	}
	if len(docs) == 0 {
		return store.Document{}, fmt.Errorf("%s %s version %d: %w", kind, id, version, store.ErrNotFound)
	}
	return docs[0], nil
}

// DocumentVersions returns every version, oldest first.
func (db *DB) DocumentVersions(ctx context.Context, kind, id string) ([]store.Document, error) {
	rows, err := db.pool.Query(ctx, selectDoc+` WHERE kind = $1 AND id = $2 ORDER BY version`, kind, id)
	if err != nil {
		return nil, fmt.Errorf("versions of %s %s: %w", kind, id, classify(ctx, err))
	}
	docs, err := pgx.CollectRows(rows, scanDoc)
	if err != nil {
		return nil, fmt.Errorf("versions of %s %s: %w", kind, id, classify(ctx, err))
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	return docs, nil
}

// Documents returns the latest version of each document of kind ("" = all).
func (db *DB) Documents(ctx context.Context, kind string) ([]store.Document, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT ON (kind, id) kind, id, version, status, yaml, hash, author, created_at
		FROM documents WHERE $1 = '' OR kind = $1 ORDER BY kind, id, version DESC`, kind)
	if err != nil {
		return nil, fmt.Errorf("listing documents: %w", classify(ctx, err))
	}
	docs, err := pgx.CollectRows(rows, scanDoc)
	if err != nil {
		return nil, fmt.Errorf("listing documents: %w", classify(ctx, err))
	}
	return docs, nil
}
