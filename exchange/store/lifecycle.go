package store

import (
	"context"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

// AgreementState is an agreement's lifecycle state as steward actions (and,
// once, seeding from a file) left it: what the runtime enforces, whatever
// the files say. Package stewardship changes it; the plan builder and the
// workers' kill switch read it.
type AgreementState struct {
	ID     string
	Status agreements.Status
	// ContentHash is agreements.(*Agreement).ContentHash of the terms the
	// status applies to: the approved terms of an approved, active or
	// suspended agreement, the proposed terms otherwise.
	ContentHash string
	// Version is the agreement document version holding those terms.
	Version int
	// ValidUntil of those terms; zero when open-ended. The expiry timer
	// moves an active agreement to expired at this instant.
	ValidUntil time.Time
	// Changed is the time of the latest transition.
	Changed time.Time
}

// Delivers reports whether the state lets the agreement deliver records
// whose policy evaluation was made under terms with contentHash.
func (s AgreementState) Delivers(contentHash string) bool {
	return s.Status == agreements.StatusActive && s.ContentHash == contentHash
}

// LifecycleReader reads every agreement's state in one indexed query; the
// kill switch polls it, so it must stay cheap.
type LifecycleReader interface {
	AgreementStates(ctx context.Context) ([]AgreementState, error)
}
