// The ledger as the audit indexer writes it: entries read from the audit
// topic, chained in arrival order, first entry per position wins.

package ledger

import (
	"context"
	"time"
)

// Flag reasons: why an entry read from the audit topic was not chained.
const (
	// FlagPositionReused: the position already has an entry of another
	// record (a different payload hash): a recreated topic, or a forged or
	// corrupted audit message. The first entry stays.
	FlagPositionReused = "position_reused"
	// FlagInvalid: the entry cannot be stored as given (Validate).
	FlagInvalid = "invalid"
	// FlagMalformed: the audit message could not be decoded
	// (ParseAuditBatch); the flag carries the message's position in
	// Detail, and no entry position.
	FlagMalformed = "malformed"
)

// Flag records an audit topic entry that the index refused: it is counted
// and kept for auditors, never chained.
type Flag struct {
	Topic     string // the entry's source position (empty for FlagMalformed)
	Partition int32
	Offset    int64
	Reason    string // a Flag* constant
	Detail    string // what was wrong, for a person
	// Entry is the refused entry's canonical encoding (Canonical, chain
	// fields cleared), or the raw message value for FlagMalformed
	// (truncated to MaxFlagBytes): the evidence.
	Entry     []byte
	FlaggedAt time.Time
}

// MaxFlagBytes bounds Flag.Entry.
const MaxFlagBytes = 64 << 10

// IndexResult is what one Index call did with its entries.
type IndexResult struct {
	Stored int // entries chained
	// Duplicates are entries at positions already indexed with the same
	// payload hash (a re-processing after a crash or rebalance, or a
	// zombie member's write): counted, not chained.
	Duplicates int
	Flagged    []Flag // recorded in the same transaction
}

// Index is the ledger as the audit indexer writes it. Index chains
// entries like Appender.Append, with the same locking, checkpoints and
// idempotency, but never fails because of one entry's content: an entry at
// a position that holds another record, or one that Validate refuses, is
// recorded as a Flag in the same transaction and skipped. Errors mean the
// store could not be written (wrapping ErrUnavailable when it could not be
// reached): nothing of the call is stored, and the call may be retried.
type Index interface {
	Index(ctx context.Context, entries []Entry) (IndexResult, error)
	// RecordFlags stores flags found outside Index (FlagMalformed).
	RecordFlags(ctx context.Context, flags []Flag) error
}

// FlagReader lists recorded flags, newest first, and counts them all.
type FlagReader interface {
	Flags(ctx context.Context, limit int) (flags []Flag, total int64, err error)
}
