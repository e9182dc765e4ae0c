package httpingest

import (
	"context"
	"time"
)

// Claim is the first request of a principal with an Idempotency-Key.
type Claim struct {
	Principal   string
	Key         string
	RequestHash []byte // SHA-256 of the dataset and the body
	Created     time.Time
	Expires     time.Time // the answer is kept until then
	LockedUntil time.Time // an unanswered claim blocks the key until then
}

// Prior is what a key already holds: an answer (Status > 0), or a request
// still in progress (Status 0).
type Prior struct {
	RequestHash []byte
	Status      int
	Body        []byte
}

// Keys keeps Idempotency-Key entries with their expiry (the exchange's
// store: both backends). Implementations must let exactly one of
// concurrent claims of a key win.
type Keys interface {
	// Claim stores c as in progress (claimed true) unless the key holds a
	// live entry: then it returns that entry.
	Claim(ctx context.Context, c Claim, now time.Time) (prior Prior, claimed bool, err error)
	// Answer records the answer of a claimed key.
	Answer(ctx context.Context, principal, key string, status int, body []byte) error
	// Release forgets an unanswered claim, so that a retry may publish.
	Release(ctx context.Context, principal, key string) error
	// Purge deletes the entries expired at now and says how many.
	Purge(ctx context.Context, now time.Time) (int64, error)
}
