package store

import (
	"context"
	"time"
)

// Access is one data-subject query of the audit API, as the access log
// keeps it (IDENTITY.md: every read of a data subject is itself audited).
type Access struct {
	Who     string    // the principal, as auth.Principal.String says it
	At      time.Time // when the query was asked
	Purpose string    // the purpose the caller stated
	Query   string    // what was asked: path and subject hash
}

// AccessLog keeps the data-subject queries.
type AccessLog interface {
	// RecordAccess appends a.
	RecordAccess(ctx context.Context, a Access) error
	// Accesses returns the last limit accesses, newest first.
	Accesses(ctx context.Context, limit int) ([]Access, error)
}
