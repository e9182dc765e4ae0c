package store

import (
	"context"
	"fmt"
	"time"
)

// IngestKey is one Idempotency-Key of HTTP ingest (connectors/httpingest):
// the first request a principal sent with it, and once answered, the
// answer a retry gets back instead of publishing again.
type IngestKey struct {
	Principal   string // who sent it (auth.Principal.String): keys are per principal
	Key         string // the Idempotency-Key header
	RequestHash []byte // SHA-256 of what was asked (dataset and body)
	Status      int    // the HTTP status answered; 0 while the request is in progress
	Body        []byte // the answer's body
	Created     time.Time
	Expires     time.Time // after this the key is forgotten (purged)
	// LockedUntil bounds an unanswered claim: a request that died without
	// answering (a crash) no longer blocks its key after it.
	LockedUntil time.Time
}

// IngestKeys keeps HTTP ingest's idempotency keys with their expiry.
type IngestKeys interface {
	// ClaimIngestKey stores k as in progress and returns claimed true,
	// unless (k.Principal, k.Key) already has an entry that has not
	// expired at now and is answered, or in progress and locked after now:
	// then it returns that entry and claimed false.
	ClaimIngestKey(ctx context.Context, k IngestKey, now time.Time) (prior IngestKey, claimed bool, err error)
	// AnswerIngestKey records the answer of a claimed key.
	AnswerIngestKey(ctx context.Context, principal, key string, status int, body []byte) error
	// ReleaseIngestKey deletes an unanswered claim: the request failed
	// without publishing anything it reported, and a retry may try again.
	ReleaseIngestKey(ctx context.Context, principal, key string) error
	// PurgeIngestKeys deletes the entries expired at now and says how many.
	PurgeIngestKeys(ctx context.Context, now time.Time) (int64, error)
}

// ClaimAttempts bounds a claim's loop: the entry it collided with may be
// released between its insert and its read, and then it tries again.
const ClaimAttempts = 3

// IngestKeySQL is what a backend does for ClaimIngestKey, each a
// statement of its own dialect; Claim runs the protocol both share.
type IngestKeySQL struct {
	// Free deletes the key's entry if it expired or its lock ran out.
	Free func() error
	// Insert stores the claim unless the key has an entry; true if stored.
	Insert func() (bool, error)
	// Read returns the key's entry; found false when there is none.
	Read func() (prior IngestKey, found bool, err error)
}

// ClaimIngestKey runs the claim protocol of IngestKeys.ClaimIngestKey over
// a backend's statements: free a dead entry, insert (the primary key
// decides between concurrent claims), else read the entry that won,
// trying again if it was released between the insert and the read.
func ClaimIngestKey(k IngestKey, q IngestKeySQL) (IngestKey, bool, error) {
	for range ClaimAttempts {
		if err := q.Free(); err != nil {
			return IngestKey{}, false, fmt.Errorf("freeing idempotency key of %s: %w", k.Principal, err)
		}
		claimed, err := q.Insert()
		if err != nil {
			return IngestKey{}, false, fmt.Errorf("claiming idempotency key of %s: %w", k.Principal, err)
		}
		if claimed {
			return k, true, nil
		}
		prior, found, err := q.Read()
		if err != nil {
			return IngestKey{}, false, fmt.Errorf("reading idempotency key of %s: %w", k.Principal, err)
		}
		if found {
			return prior, false, nil
		}
	}
	return IngestKey{}, false, fmt.Errorf("claiming idempotency key of %s: taken and released %d times in a row", k.Principal, ClaimAttempts)
}

// FromMicros turns the stored microsecond times of an entry into prior's.
func (k *IngestKey) FromMicros(created, expires, locked int64) {
	k.Created, k.Expires, k.LockedUntil = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC(), time.UnixMicro(locked).UTC()
}
