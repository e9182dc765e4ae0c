package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

const selectDoc = `SELECT kind, id, version, status, yaml, hash, author, created_us FROM documents`

func scanDoc(r scanner) (store.Document, error) {
	var d store.Document
	var status, yaml string
	var us int64
	err := r.Scan(&d.Kind, &d.ID, &d.Version, &status, &yaml, &d.Hash, &d.Author, &us)
	d.Status, d.YAML, d.Created = agreements.Status(status), []byte(yaml), time.UnixMicro(us).UTC()
	return d, err
}

func (db *DB) docs(ctx context.Context, q querier, sqlText string, args ...any) ([]store.Document, error) {
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	var out []store.Document
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, classify(ctx, rows.Err())
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// PutDocument stores the next version of a document (see store.AgreementStore).
func (db *DB) PutDocument(ctx context.Context, d store.Document) (store.Document, error) {
	d, err := store.PrepareDocument(d)
	if err != nil {
		return store.Document{}, err
	}
	var out store.Document
	err = db.withTx(ctx, func(tx *sql.Tx) error {
		latest, err := db.docs(ctx, tx, selectDoc+` WHERE kind = ? AND id = ? ORDER BY version DESC LIMIT 1`, d.Kind, d.ID)
		if err != nil {
			return err
		}
		var insert bool
		if out, insert = store.NextVersion(latest, d, db.cfg.Now()); !insert {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO documents (kind, id, version, status, yaml, hash, author, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, out.Kind, out.ID, out.Version, string(out.Status), string(out.YAML), out.Hash, out.Author, out.Created.UnixMicro())
		return err
	})
	if err != nil {
		return store.Document{}, fmt.Errorf("put %s %s: %w", d.Kind, d.ID, err)
	}
	return out, nil
}

// Document returns one version (0 = latest).
func (db *DB) Document(ctx context.Context, kind, id string, version int) (store.Document, error) {
	var docs []store.Document
	var err error
	if version > 0 {
		docs, err = db.docs(ctx, db.r, selectDoc+` WHERE kind = ? AND id = ? AND version = ?`, kind, id, version)
	} else {
		docs, err = db.docs(ctx, db.r, selectDoc+` WHERE kind = ? AND id = ? ORDER BY version DESC LIMIT 1`, kind, id)
	}
	if err != nil {
		return store.Document{}, fmt.Errorf("%s %s: %w", kind, id, err)
	}
	if len(docs) == 0 {
		return store.Document{}, fmt.Errorf("%s %s version %d: %w", kind, id, version, store.ErrNotFound)
	}
	return docs[0], nil
}

// DocumentVersions returns every version, oldest first.
func (db *DB) DocumentVersions(ctx context.Context, kind, id string) ([]store.Document, error) {
	docs, err := db.docs(ctx, db.r, selectDoc+` WHERE kind = ? AND id = ? ORDER BY version`, kind, id)
	if err != nil {
		return nil, fmt.Errorf("versions of %s %s: %w", kind, id, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	return docs, nil
}

// Documents returns the latest version of each document of kind ("" = all).
func (db *DB) Documents(ctx context.Context, kind string) ([]store.Document, error) {
	docs, err := db.docs(ctx, db.r, selectDoc+` d WHERE (?1 = '' OR kind = ?1)
		AND version = (SELECT max(version) FROM documents m WHERE m.kind = d.kind AND m.id = d.id) ORDER BY kind, id`, kind)
	if err != nil {
		return nil, fmt.Errorf("listing documents: %w", err)
	}
	return docs, nil
}
