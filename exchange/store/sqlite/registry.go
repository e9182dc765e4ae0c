package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// registry is the registry's rows on SQLite (store.SchemaRows);
// store.NewSchemaStore checks inputs and adds context to errors.
type registry struct{ db *DB }

var _ store.SchemaRows = (*registry)(nil)

func (r *registry) CreateSchema(ctx context.Context, fingerprint, text string) (int, error) {
	var id int64
	err := r.db.withTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO registry_schemas (fingerprint, schema_text) VALUES (?, ?)`, fingerprint, text); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM registry_schemas WHERE fingerprint = ?`, fingerprint).Scan(&id)
	})
	return int(id), err
}

func (r *registry) schemaBy(ctx context.Context, where string, arg any) (schemas.StoredSchema, error) {
	var s schemas.StoredSchema
	var id int64
	err := r.db.r.QueryRowContext(ctx, `SELECT id, schema_text, fingerprint FROM registry_schemas WHERE `+where+` = ?`, arg).Scan(&id, &s.Text, &s.Fingerprint)
	if errors.Is(err, sql.ErrNoRows) {
		return s, schemas.ErrSchemaNotFound
	}
	if err != nil {
		return s, classify(ctx, err)
	}
	s.ID = int(id)
	return s, nil
}

func (r *registry) SchemaByID(ctx context.Context, id int) (schemas.StoredSchema, error) {
	return r.schemaBy(ctx, "id", int64(id))
}

func (r *registry) SchemaByFingerprint(ctx context.Context, fingerprint string) (schemas.StoredSchema, error) {
	return r.schemaBy(ctx, "fingerprint", fingerprint)
}

func (r *registry) AddVersion(ctx context.Context, subject string, schemaID, expectedLatest int) (int, error) {
	var version int
	err := r.db.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM registry_schemas WHERE id = ?`, int64(schemaID)).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("schema %d: %w", schemaID, schemas.ErrSchemaNotFound)
		}
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM registry_versions WHERE subject = ?`, subject).Scan(&latest); err != nil {
			return err
		}
		if latest != expectedLatest {
			return fmt.Errorf("latest version is %d, expected %d: %w", latest, expectedLatest, schemas.ErrConflict)
		}
		version = latest + 1
		_, err := tx.ExecContext(ctx, `INSERT INTO registry_versions (subject, version, schema_id) VALUES (?, ?, ?)`, subject, version, int64(schemaID))
		return err
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

func (r *registry) versions(ctx context.Context, q querier, sqlText string, args ...any) ([]schemas.SubjectVersion, error) {
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	out := []schemas.SubjectVersion{}
	for rows.Next() {
		var v schemas.SubjectVersion
		var id int64
		if err := rows.Scan(&v.Subject, &v.Version, &id, &v.Deleted); err != nil {
			return nil, err
		}
		v.SchemaID = int(id)
		out = append(out, v)
	}
	return out, classify(ctx, rows.Err())
}

func (r *registry) Versions(ctx context.Context, subject string, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	return r.versions(ctx, r.db.r, `SELECT subject, version, schema_id, deleted FROM registry_versions
		WHERE subject = ? AND (? OR NOT deleted) ORDER BY version`, subject, includeDeleted)
}

func (r *registry) find(ctx context.Context, q querier, subject string, version int) (schemas.SubjectVersion, error) {
	out, err := r.versions(ctx, q, `SELECT subject, version, schema_id, deleted FROM registry_versions WHERE subject = ? AND version = ?`, subject, version)
	if err != nil {
		return schemas.SubjectVersion{}, err
	}
	if len(out) == 1 {
		return out[0], nil
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM registry_versions WHERE subject = ?`, subject).Scan(&n); err != nil {
		return schemas.SubjectVersion{}, classify(ctx, err)
	}
	if n == 0 {
		return schemas.SubjectVersion{}, fmt.Errorf("subject %q: %w", subject, schemas.ErrSubjectNotFound)
	}
	return schemas.SubjectVersion{}, fmt.Errorf("subject %q version %d: %w", subject, version, schemas.ErrVersionNotFound)
}

func (r *registry) Version(ctx context.Context, subject string, version int) (schemas.SubjectVersion, error) {
	return r.find(ctx, r.db.r, subject, version)
}

func (r *registry) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	rows, err := r.db.r.QueryContext(ctx, `SELECT subject FROM registry_versions WHERE ? OR NOT deleted GROUP BY subject ORDER BY subject`, includeDeleted)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, classify(ctx, rows.Err())
}

func (r *registry) VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	return r.versions(ctx, r.db.r, `SELECT subject, version, schema_id, deleted FROM registry_versions
		WHERE schema_id = ? AND (? OR NOT deleted) ORDER BY subject, version`, int64(id), includeDeleted)
}

// modify runs an UPDATE or DELETE of one version; when it touches nothing,
// the not-found error the contract names is returned.
func (r *registry) modify(ctx context.Context, stmt, subject string, version int) error {
	return r.db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, stmt, subject, version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			_, err := r.find(ctx, tx, subject, version)
			return err
		}
		return nil
	})
}

func (r *registry) SoftDeleteVersion(ctx context.Context, subject string, version int) error {
	return r.modify(ctx, `UPDATE registry_versions SET deleted = 1 WHERE subject = ? AND version = ?`, subject, version)
}

func (r *registry) DeleteVersion(ctx context.Context, subject string, version int) error {
	return r.modify(ctx, `DELETE FROM registry_versions WHERE subject = ? AND version = ?`, subject, version)
}

func (r *registry) Config(ctx context.Context, subject string) (schemas.Compatibility, error) {
	var level string
	err := r.db.r.QueryRowContext(ctx, `SELECT level FROM registry_config WHERE subject = ?`, subject).Scan(&level)
	if errors.Is(err, sql.ErrNoRows) {
		return "", schemas.ErrConfigNotFound
	}
	return schemas.Compatibility(level), classify(ctx, err)
}

func (r *registry) SetConfig(ctx context.Context, subject string, level schemas.Compatibility) error {
	return r.db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO registry_config (subject, level) VALUES (?, ?)
			ON CONFLICT (subject) DO UPDATE SET level = excluded.level`, subject, string(level))
		return err
	})
}

func (r *registry) DeleteConfig(ctx context.Context, subject string) error {
	return r.db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM registry_config WHERE subject = ?`, subject)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return schemas.ErrConfigNotFound
		}
		return nil
	})
}
