// The ledger as the audit indexer writes it: entries read from the audit
// topic, chained in arrival order, first entry per position wins.

package ledger

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
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

// NewFlag is the flag of entry e refused for reason: its position, detail
// and canonical encoding (e's chain fields are not encoded: they were
// never set). FlaggedAt is left to the store.
func NewFlag(e *Entry, reason, detail string) Flag {
	c := *e
	c.Seq, c.PrevHash, c.Hash = 0, nil, nil
	return CleanFlag(Flag{Topic: e.Topic, Partition: e.Partition, Offset: e.Offset,
		Reason: reason, Detail: detail, Entry: Canonical(&c)})
}

// CleanFlag makes f storable whatever the refused entry held: Topic and
// Detail valid UTF-8 without NUL (PostgreSQL text refuses both) and at most
// maxText and MaxFlagBytes long, Entry at most MaxFlagBytes. A flag must
// never fail the transaction that records it: that would stop the index.
func CleanFlag(f Flag) Flag {
	f.Topic = cleanText(f.Topic, maxText)
	f.Reason = cleanText(f.Reason, maxText)
	f.Detail = cleanText(f.Detail, MaxFlagBytes)
	if len(f.Entry) > MaxFlagBytes {
		f.Entry = f.Entry[:MaxFlagBytes:MaxFlagBytes]
	}
	return f
}

func cleanText(s string, n int) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && len(s) <= n {
		return s
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > n {
		// Cut at n, then back off a rune cut in the middle (at most 3 bytes).
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// MaxFlagsList bounds one FlagReader.Flags call.
const MaxFlagsList = 10_000

// CheckFlagsLimit reports a bad FlagReader.Flags limit.
func CheckFlagsLimit(limit int) error {
	if limit < 1 || limit > MaxFlagsList {
		return fmt.Errorf("listing ledger flags: limit %d is not within [1, %d]", limit, MaxFlagsList)
	}
	return nil
}
