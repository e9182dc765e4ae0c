package schemas

import (
	"context"
	"fmt"
)

// StoredSchema is one schema as the store keeps it: a global id, the
// registry's normalised JSON text and the fingerprint it is found by.
type StoredSchema struct {
	ID          int
	Text        string
	Fingerprint string
}

// SubjectVersion is one version of a subject: which schema id it points at
// and whether it was soft-deleted.
type SubjectVersion struct {
	Subject  string
	Version  int
	SchemaID int
	Deleted  bool
}

// Store is the registry's persistence. The registry owns all rules
// (compatibility, the delete protocol, idempotent registration); a Store
// only keeps rows and enforces the few invariants below. Implementations:
// NewMemoryStore here, PostgreSQL and SQLite under exchange/store. Every
// implementation must pass schematest.RunStoreConformance.
//
// Common contract: every method honours ctx (returns ctx.Err(), wrapped,
// once it is done); errors are wrapped with context and still match the
// sentinels through errors.Is; each method is atomic on its own; results
// are in a deterministic order as documented. Subject names are opaque,
// case-sensitive strings (they may contain dots, slashes and any UTF-8).
type Store interface {
	// CreateSchema returns the id of the schema with this fingerprint,
	// inserting (fingerprint, text) under a new id when there is none.
	// Idempotent and atomic: concurrent calls with one fingerprint all
	// return the same id. New ids are positive, unique and never reused,
	// even after every version pointing at a schema is deleted.
	CreateSchema(ctx context.Context, fingerprint, text string) (id int, err error)
	// SchemaByID returns the schema with this id, or ErrSchemaNotFound.
	SchemaByID(ctx context.Context, id int) (StoredSchema, error)
	// SchemaByFingerprint returns the schema with this fingerprint, or
	// ErrSchemaNotFound.
	SchemaByFingerprint(ctx context.Context, fingerprint string) (StoredSchema, error)

	// AddVersion appends a version pointing at schemaID to subject and
	// returns its number. It succeeds only if the highest version number
	// the subject currently holds, soft-deleted ones included (0 for a
	// subject without versions), equals expectedLatest; otherwise it
	// returns ErrConflict and changes nothing. The new number is
	// expectedLatest+1. This compare-and-append lets several registry
	// processes share one store without skipping a compatibility check.
	// A missing schemaID is ErrSchemaNotFound.
	AddVersion(ctx context.Context, subject string, schemaID, expectedLatest int) (version int, err error)
	// Versions lists the subject's versions in ascending order, with
	// soft-deleted ones only when includeDeleted. ErrSubjectNotFound when
	// the list would be empty.
	Versions(ctx context.Context, subject string, includeDeleted bool) ([]SubjectVersion, error)
	// Version returns one version, soft-deleted or not (see Deleted).
	// ErrSubjectNotFound when the subject has no versions at all, else
	// ErrVersionNotFound.
	Version(ctx context.Context, subject string, version int) (SubjectVersion, error)
	// Subjects lists, sorted ascending, the subjects with at least one
	// version (at least one not soft-deleted unless includeDeleted).
	Subjects(ctx context.Context, includeDeleted bool) ([]string, error)
	// VersionsBySchemaID lists the (subject, version) pairs pointing at
	// schema id, sorted by subject then version; soft-deleted ones only
	// when includeDeleted. An empty list (not an error) when none.
	VersionsBySchemaID(ctx context.Context, id int, includeDeleted bool) ([]SubjectVersion, error)
	// SoftDeleteVersion marks a version deleted. Idempotent.
	// ErrSubjectNotFound / ErrVersionNotFound as for Version.
	SoftDeleteVersion(ctx context.Context, subject string, version int) error
	// DeleteVersion removes a version row for good (the schema row stays).
	// ErrSubjectNotFound / ErrVersionNotFound as for Version.
	DeleteVersion(ctx context.Context, subject string, version int) error

	// Config returns the compatibility level set for subject, or for the
	// whole registry when subject is "". ErrConfigNotFound when unset.
	Config(ctx context.Context, subject string) (Compatibility, error)
	// SetConfig sets (upserts) the level for subject ("" = global).
	SetConfig(ctx context.Context, subject string, level Compatibility) error
	// DeleteConfig removes the level set for subject ("" = global).
	// ErrConfigNotFound when none was set.
	DeleteConfig(ctx context.Context, subject string) error
}

// Compatibility is a compatibility level, spelled as Confluent spells it.
type Compatibility string

// The compatibility levels.
const (
	Backward           Compatibility = "BACKWARD"
	BackwardTransitive Compatibility = "BACKWARD_TRANSITIVE"
	Forward            Compatibility = "FORWARD"
	ForwardTransitive  Compatibility = "FORWARD_TRANSITIVE"
	Full               Compatibility = "FULL"
	FullTransitive     Compatibility = "FULL_TRANSITIVE"
	None               Compatibility = "NONE"
)

// levels lists every compatibility level.
var levels = []Compatibility{Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None}

// ParseCompatibility accepts a level name (case-insensitive).
func ParseCompatibility(s string) (Compatibility, error) {
	for _, l := range levels {
		if equalFoldASCII(s, string(l)) {
			return l, nil
		}
	}
	return "", fmt.Errorf("%w: %q (want one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE)", ErrInvalidCompatibility, s)
}

// valid reports whether c is one of the levels above.
func (c Compatibility) valid() bool {
	for _, l := range levels {
		if c == l {
			return true
		}
	}
	return false
}

// transitive reports whether c checks against every earlier version
// rather than the latest only.
func (c Compatibility) transitive() bool {
	return c == BackwardTransitive || c == ForwardTransitive || c == FullTransitive
}

// backward reports whether the new schema must read old data.
func (c Compatibility) backward() bool {
	return c == Backward || c == BackwardTransitive || c == Full || c == FullTransitive
}

// forward reports whether old schemas must read new data.
func (c Compatibility) forward() bool {
	return c == Forward || c == ForwardTransitive || c == Full || c == FullTransitive
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
