package exchange

import (
	"context"
	"crypto/sha256"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// positionGuard checks, for one assigned partition, that a record fetched
// at a position the ledger has already audited is the record audited there.
//
// Kafka never changes the record at an offset, so a re-processed record
// (after a crash, a rebalance or an offset reset) has the payload hash of
// its entry. A different one means the topic was deleted and created again
// under the same name and its offsets started over: delivering that record
// would deliver it without an entry of its own (the ledger keeps one entry
// per position), so the partition halts before anything of it is
// delivered. The README ("Recreated ingress topics") says how an operator
// resumes.
//
// The ledger is asked once per assignment for the chain's highest offset;
// records above it (the usual case) cost one comparison. Records at or
// below it are compared with stored hashes read MaxPositionRange at a time.
type positionGuard struct {
	ledger ledger.PositionReader
	chain  ledger.Chain

	loaded  bool
	highest int64            // the chain's highest audited offset when loaded
	lo, hi  int64            // the offsets hashes covers; lo > hi when none
	hashes  map[int64][]byte // stored payload hashes in [lo, hi]
}

func newPositionGuard(lg ledger.PositionReader, topic string, partition int) *positionGuard {
	return &positionGuard{ledger: lg, chain: ledger.Chain{Topic: topic, Partition: int32(partition)}, lo: 0, hi: -1}
}

// check returns nil when the record at offset with payload value may be
// processed, a *ledger.PositionReusedError (matching ErrPositionReused) when
// the ledger audited another record at that offset, or the store's error
// (the caller retries: until the check is made, the record is held).
func (g *positionGuard) check(ctx context.Context, offset int64, value []byte) error {
	if !g.loaded {
		h, err := g.ledger.HighestOffset(ctx, g.chain)
		if err != nil {
			return err
		}
		g.highest, g.loaded = h, true
	}
	if offset > g.highest {
		g.hashes = nil // never needed again in this assignment
		return nil
	}
	if offset < g.lo || offset > g.hi {
		to := min(offset+ledger.MaxPositionRange-1, g.highest)
		hs, err := g.ledger.PayloadHashes(ctx, g.chain, offset, to)
		if err != nil {
			return err
		}
		g.lo, g.hi, g.hashes = offset, to, hs
	}
	stored, ok := g.hashes[offset]
	if !ok {
		return nil // no entry at this offset: the record gets its own
	}
	var sum []byte // as the entry holds it: none for a null value
	if value != nil {
		s := sha256.Sum256(value)
		sum = s[:]
	}
	if !ledger.SameHash(stored, sum) {
		return &ledger.PositionReusedError{Chain: g.chain, Offset: offset, HighestAudited: g.highest, StoredHash: stored, PayloadHash: sum}
	}
	return nil
}
