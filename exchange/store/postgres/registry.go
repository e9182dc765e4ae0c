package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// registry is the registry's rows on PostgreSQL (store.SchemaRows);
// store.NewSchemaStore checks inputs and adds context to errors.
type registry struct{ db *DB }

var _ store.SchemaRows = (*registry)(nil)

func (r *registry) CreateSchema(ctx context.Context, fingerprint, text string) (int, error) {
	var id int64
	// ON CONFLICT DO NOTHING + re-read: concurrent creators of one
	// fingerprint all get the winner's id.
	for attempt := 0; attempt < 3; attempt++ {
		err := r.db.pool.QueryRow(ctx, `WITH ins AS (
				INSERT INTO registry_schemas (fingerprint, schema_text) VALUES ($1, $2)
				ON CONFLICT (fingerprint) DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT id FROM registry_schemas WHERE fingerprint = $1 LIMIT 1`,
			fingerprint, text).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // the other inserter had not committed yet when we looked
		}
		if err != nil {
			return 0, classify(ctx, err)
		}
		return int(id), nil
	}
	return 0, schemas.ErrConflict
}

func (r *registry) schemaBy(ctx context.Context, where string, arg any) (schemas.StoredSchema, error) {
	var s schemas.StoredSchema
	var id int64
	err := r.db.pool.QueryRow(ctx, `SELECT id, schema_text, fingerprint FROM registry_schemas WHERE `+where+` = $1`, arg).Scan(&id, &s.Text, &s.Fingerprint)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := pgx.BeginFunc(ctx, r.db.pool, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registry_schemas WHERE id = $1)`, int64(schemaID)).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("schema %d: %w", schemaID, schemas.ErrSchemaNotFound)
		}
		err := tx.QueryRow(ctx, `INSERT INTO registry_versions (subject, version, schema_id)
			SELECT $1, $3::integer + 1, $2
			WHERE (SELECT coalesce(max(version), 0) FROM registry_versions WHERE subject = $1) = $3::integer
			ON CONFLICT DO NOTHING RETURNING version`, subject, int64(schemaID), expectedLatest).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("latest version is not %d: %w", expectedLatest, schemas.ErrConflict)
		}
		return err
	})
	if err != nil {
		return 0, classify(ctx, err)
	}
	return version, nil
}

func collectVersions(rows pgx.Rows) ([]schemas.SubjectVersion, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (schemas.SubjectVersion, error) {
		var v schemas.SubjectVersion
		var id int64
		err := r.Scan(&v.Subject, &v.Version, &id, &v.Deleted)
		v.SchemaID = int(id)
		return v, err
	})
}

func (r *registry) Versions(ctx context.Context, subject string, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	rows, err := r.db.pool.Query(ctx, `SELECT subject, version, schema_id, deleted FROM registry_versions
		WHERE subject = $1 AND ($2 OR NOT deleted) ORDER BY version`, subject, includeDeleted)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out, err := collectVersions(rows)
	return out, classify(ctx, err)
}

// find returns the version row, or the not-found error the contract names.
func (r *registry) find(ctx context.Context, q querier, subject string, version int) (schemas.SubjectVersion, error) {
	rows, err := q.Query(ctx, `SELECT subject, version, schema_id, deleted FROM registry_versions
		WHERE subject = $1 AND version = $2`, subject, version)
	if err != nil {
		return schemas.SubjectVersion{}, classify(ctx, err)
	}
	out, err := collectVersions(rows)
	if err != nil {
		return schemas.SubjectVersion{}, classify(ctx, err)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	var any bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registry_versions WHERE subject = $1)`, subject).Scan(&any); err != nil {
		return schemas.SubjectVersion{}, classify(ctx, err)
	}
	if !any {
		return schemas.SubjectVersion{}, fmt.Errorf("subject %q: %w", subject, schemas.ErrSubjectNotFound)
	}
	return schemas.SubjectVersion{}, fmt.Errorf("subject %q version %d: %w", subject, version, schemas.ErrVersionNotFound)
}

func (r *registry) Version(ctx context.Context, subject string, version int) (schemas.SubjectVersion, error) {
	return r.find(ctx, r.db.pool, subject, version)
}

func (r *registry) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	rows, err := r.db.pool.Query(ctx, `SELECT subject FROM registry_versions WHERE $1 OR NOT deleted GROUP BY subject ORDER BY subject COLLATE "C"`, includeDeleted)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, classify(ctx, err)
}

func (r *registry) VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	rows, err := r.db.pool.Query(ctx, `SELECT subject, version, schema_id, deleted FROM registry_versions
		WHERE schema_id = $1 AND ($2 OR NOT deleted) ORDER BY subject COLLATE "C", version`, int64(id), includeDeleted)
	if err != nil {
		return nil, classify(ctx, err)
	}
	out, err := collectVersions(rows)
	return out, classify(ctx, err)
}

// modify runs an UPDATE or DELETE of one version; when it touches nothing,
// the not-found error the contract names is returned.
func (r *registry) modify(ctx context.Context, stmt, subject string, version int) error {
	tag, err := r.db.pool.Exec(ctx, stmt, subject, version)
	if err != nil {
		return fmt.Errorf("subject %q version %d: %w", subject, version, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		_, err := r.find(ctx, r.db.pool, subject, version)
		return err
	}
	return nil
}

func (r *registry) SoftDeleteVersion(ctx context.Context, subject string, version int) error {
	return r.modify(ctx, `UPDATE registry_versions SET deleted = true WHERE subject = $1 AND version = $2`, subject, version)
}

func (r *registry) DeleteVersion(ctx context.Context, subject string, version int) error {
	return r.modify(ctx, `DELETE FROM registry_versions WHERE subject = $1 AND version = $2`, subject, version)
}

func (r *registry) Config(ctx context.Context, subject string) (schemas.Compatibility, error) {
	var level string
	err := r.db.pool.QueryRow(ctx, `SELECT level FROM registry_config WHERE subject = $1`, subject).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", schemas.ErrConfigNotFound
	}
	return schemas.Compatibility(level), classify(ctx, err)
}

func (r *registry) SetConfig(ctx context.Context, subject string, level schemas.Compatibility) error {
	_, err := r.db.pool.Exec(ctx, `INSERT INTO registry_config (subject, level) VALUES ($1, $2)
		ON CONFLICT (subject) DO UPDATE SET level = excluded.level`, subject, string(level))
	return classify(ctx, err)
}

func (r *registry) DeleteConfig(ctx context.Context, subject string) error {
	tag, err := r.db.pool.Exec(ctx, `DELETE FROM registry_config WHERE subject = $1`, subject)
	if err != nil {
		return classify(ctx, err)
	}
	if tag.RowsAffected() == 0 {
		return schemas.ErrConfigNotFound
	}
	return nil
}
