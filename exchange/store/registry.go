package store

import (
	"context"
	"fmt"

	"github.com/exchange-gov/exchange/schemas"
)

// SchemaRows is a backend's registry tables: the SQL of schemas.Store and
// nothing else. Its methods return the contract's sentinels and the
// backend's classified driver errors without context, and check no input;
// NewSchemaStore adds both, the same way for every backend.
type SchemaRows interface {
	schemas.Store
}

// NewSchemaStore returns the schemas.Store a backend's Schemas hands out:
// rows behind the input checks and error context every backend shares.
func NewSchemaStore(rows SchemaRows) schemas.Store { return schemaStore{rows} }

type schemaStore struct{ rows SchemaRows }

var _ schemas.Store = schemaStore{}

// checkSubject refuses a subject no SQL text column holds alike on every
// backend, wrapping schemas.ErrInvalidSubject.
func checkSubject(op, subject string) error {
	if err := CheckText("subject", subject); err != nil {
		return fmt.Errorf("%s: %w: %w", op, schemas.ErrInvalidSubject, err)
	}
	return nil
}

func (s schemaStore) CreateSchema(ctx context.Context, fingerprint, text string) (int, error) {
	if err := CheckText("schema", text); err != nil {
		return 0, fmt.Errorf("create schema: %w: %w", schemas.ErrInvalidSchema, err)
	}
	id, err := s.rows.CreateSchema(ctx, fingerprint, text)
	if err != nil {
		return 0, fmt.Errorf("create schema: %w", err)
	}
	return id, nil
}

func (s schemaStore) SchemaByID(ctx context.Context, id int) (schemas.StoredSchema, error) {
	out, err := s.rows.SchemaByID(ctx, id)
	if err != nil {
		return out, fmt.Errorf("schema %d: %w", id, err)
	}
	return out, nil
}

func (s schemaStore) SchemaByFingerprint(ctx context.Context, fingerprint string) (schemas.StoredSchema, error) {
	out, err := s.rows.SchemaByFingerprint(ctx, fingerprint)
	if err != nil {
		return out, fmt.Errorf("schema with fingerprint %s: %w", fingerprint, err)
	}
	return out, nil
}

func (s schemaStore) AddVersion(ctx context.Context, subject string, schemaID, expectedLatest int) (int, error) {
	if err := checkSubject("add version", subject); err != nil {
		return 0, err
	}
	v, err := s.rows.AddVersion(ctx, subject, schemaID, expectedLatest)
	if err != nil {
		return 0, fmt.Errorf("add version to subject %q: %w", subject, err)
	}
	return v, nil
}

func (s schemaStore) Versions(ctx context.Context, subject string, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	out, err := s.rows.Versions(ctx, subject, includeDeleted)
	if err == nil && len(out) == 0 {
		err = schemas.ErrSubjectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("versions of subject %q: %w", subject, err)
	}
	return out, nil
}

func (s schemaStore) Version(ctx context.Context, subject string, version int) (schemas.SubjectVersion, error) {
	v, err := s.rows.Version(ctx, subject, version)
	if err != nil {
		return v, fmt.Errorf("version: %w", err)
	}
	return v, nil
}

func (s schemaStore) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	out, err := s.rows.Subjects(ctx, includeDeleted)
	if err != nil {
		return nil, fmt.Errorf("list subjects: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (s schemaStore) VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]schemas.SubjectVersion, error) {
	out, err := s.rows.VersionsBySchemaID(ctx, id, includeDeleted)
	if err != nil {
		return nil, fmt.Errorf("versions of schema %d: %w", id, err)
	}
	if out == nil {
		out = []schemas.SubjectVersion{}
	}
	return out, nil
}

func (s schemaStore) SoftDeleteVersion(ctx context.Context, subject string, version int) error {
	if err := s.rows.SoftDeleteVersion(ctx, subject, version); err != nil {
		return fmt.Errorf("soft-delete: %w", err)
	}
	return nil
}

func (s schemaStore) DeleteVersion(ctx context.Context, subject string, version int) error {
	if err := s.rows.DeleteVersion(ctx, subject, version); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

func (s schemaStore) Config(ctx context.Context, subject string) (schemas.Compatibility, error) {
	level, err := s.rows.Config(ctx, subject)
	if err != nil {
		return "", fmt.Errorf("config of %q: %w", subject, err)
	}
	return level, nil
}

func (s schemaStore) SetConfig(ctx context.Context, subject string, level schemas.Compatibility) error {
	if err := checkSubject("set config", subject); err != nil {
		return err
	}
	if err := s.rows.SetConfig(ctx, subject, level); err != nil {
		return fmt.Errorf("set config of %q: %w", subject, err)
	}
	return nil
}

func (s schemaStore) DeleteConfig(ctx context.Context, subject string) error {
	if err := s.rows.DeleteConfig(ctx, subject); err != nil {
		return fmt.Errorf("delete config of %q: %w", subject, err)
	}
	return nil
}
