package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/exchange-gov/exchange/agreements/names"
)

// ErrUnavailable is wrapped by store errors that mean the database could not
// be reached or did not answer (connection refused or lost, timeouts). The
// runtime fails closed on it: it pauses consumption and retries.
var ErrUnavailable = errors.New("ledger store unavailable")

// ErrInvalidEntry is wrapped when an entry cannot be stored as given (empty
// topic, zero decision time, text that is not UTF-8 …). Retrying does not help.
var ErrInvalidEntry = errors.New("invalid ledger entry")

// Appender is the ledger as the runtime writes it.
//
// Append stores entries durably before it returns nil. It is idempotent on
// (Topic, Partition, Offset): an entry whose identity is already stored is
// skipped and neither forks nor extends its chain, so a batch can be retried
// after an unknown outcome (timeout, lost connection) and records
// re-processed after a crash or rebalance leave exactly one entry. A stored
// entry with another payload hash is not a re-processing: Append then fails
// with ErrPositionReused and stores nothing. The store sets the chain fields
// (Seq, PrevHash, Hash); values passed in are ignored and the caller's slice
// is not modified. Appends to one chain are
// serialised inside the database, so several exchange instances — including
// one that lost its partition in a rebalance and has not noticed yet — can
// append at once without forking a chain.
type Appender interface {
	Append(ctx context.Context, entries []Entry) error
}

// ErrPositionReused is matched (errors.Is) by every *PositionReusedError: a
// source position (topic, partition, offset) that already has an entry is
// met again with a different record. The topic was deleted and created again
// under the same name, and its new records reuse offsets the ledger has
// audited. Such a record cannot be audited at that position, so it must not
// be delivered (see PositionReader); Append refuses it rather than skip it
// as a re-processing.
var ErrPositionReused = errors.New("source position already audited for a different record")

// PositionReusedError is the error for another record met at an audited
// position. It carries what an operator needs to resume: the partition
// (Chain), where the reuse was met and the highest offset the ledger has
// audited in that partition, past which the group's offset must be moved.
// It matches ErrPositionReused; use errors.As for the fields.
type PositionReusedError struct {
	Chain  Chain
	Offset int64 // the reused position
	// HighestAudited is the chain's highest offset with an entry when the
	// reuse was met (at least Offset).
	HighestAudited int64
	StoredHash     []byte // payload hash of the ledger's entry at Offset
	PayloadHash    []byte // payload hash of the record met there; nil for a null value
}

func (e *PositionReusedError) Error() string {
	return fmt.Sprintf("%v: %s offset %d: the ledger's entry has payload hash %x, this record %x (was the topic deleted and created again?)",
		ErrPositionReused, e.Chain, e.Offset, e.StoredHash, e.PayloadHash)
}

// Unwrap makes errors.Is(err, ErrPositionReused) hold.
func (e *PositionReusedError) Unwrap() error { return ErrPositionReused }

// PositionReader reads what the ledger holds at source positions. Before the
// runtime delivers a record again (after a crash, rebalance or offset
// reset), it checks that the ledger's entry at that position is of the same
// record.
type PositionReader interface {
	// HighestOffset returns the highest offset with an entry in chain c, -1
	// when the chain has none.
	HighestOffset(ctx context.Context, c Chain) (int64, error)
	// PayloadHashes returns the payload hashes of c's entries with offsets
	// in [from, to], by offset. Callers keep the range small (see
	// MaxPositionRange); offsets without an entry are absent.
	PayloadHashes(ctx context.Context, c Chain, from, to int64) (map[int64][]byte, error)
}

// MaxPositionRange bounds one PayloadHashes call (to - from + 1).
const MaxPositionRange = 4096

// CheckPositionRange reports a bad PayloadHashes range.
func CheckPositionRange(from, to int64) error {
	if from < 0 || to < from || to-from >= MaxPositionRange {
		return fmt.Errorf("payload hashes: offset range [%d, %d] is empty, negative or wider than %d", from, to, MaxPositionRange)
	}
	return nil
}

// Chain identifies a hash chain: one per source topic-partition.
type Chain struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (c Chain) String() string { return fmt.Sprintf("%s/%d", c.Topic, c.Partition) }

// Source is what Verify reads. Backends implement it over their tables.
type Source interface {
	// Chains lists every chain that has entries or checkpoints.
	Chains(ctx context.Context) ([]Chain, error)
	// ChainEntries calls fn with the chain's entries in Seq order. The entry
	// passed to fn is only valid during the call.
	ChainEntries(ctx context.Context, c Chain, fn func(*Entry) error) error
	// ChainCheckpoints returns the chain's checkpoints in Seq order.
	ChainCheckpoints(ctx context.Context, c Chain) ([]Checkpoint, error)
}

// Head is the end of a chain as a writer sees it inside its transaction.
type Head struct {
	Seq       int64  // 0 for an empty chain
	Hash      []byte // nil for an empty chain
	MaxOffset int64  // highest offset stored in the chain; -1 for none
}

// Batch is a validated append batch grouped by chain, in chain order.
type Batch struct {
	Chains  []Chain
	Entries map[Chain][]*Entry // in the order given to Append, one per offset
}

// NewBatch validates and normalises copies of entries and groups them by
// chain. Chains come out sorted (writers lock them in this order, so two
// writers never deadlock); within a chain entries keep their order and a
// repeated offset keeps its first occurrence.
func NewBatch(entries []Entry) (*Batch, error) {
	b, _, err := newBatch(entries, true)
	return b, err
}

// NewIndexBatch is NewBatch for Index: an entry Validate refuses, or a
// repeated position with another payload hash than its first occurrence, is
// left out and returned as a Flag (FlaggedAt unset: the store's clock sets
// it); res.Duplicates counts repeated positions with the same payload hash.
func NewIndexBatch(entries []Entry) (*Batch, IndexResult) {
	b, res, _ := newBatch(entries, false)
	return b, res
}

// newBatch builds a batch; strict fails on the first invalid entry, else
// invalid entries and conflicting repeats are flagged.
func newBatch(entries []Entry, strict bool) (*Batch, IndexResult, error) {
	var res IndexResult
	b := &Batch{Entries: make(map[Chain][]*Entry)}
	seen := make(map[Chain]*chainOffsets)
	copies := make([]Entry, len(entries))
	tags := TagCache{}
	for i := range entries {
		e := &copies[i]
		*e = entries[i]
		e.Seq, e.PrevHash, e.Hash = 0, nil, nil
		Normalize(e)
		if err := validate(e, tags); err != nil {
			if strict {
				return nil, res, err
			}
			res.Flagged = append(res.Flagged, NewFlag(e, FlagInvalid, err.Error()))
			continue
		}
		c := Chain{e.Topic, e.Partition}
		offs, ok := seen[c]
		if !ok {
			offs = &chainOffsets{last: -1}
			seen[c] = offs
			b.Chains = append(b.Chains, c)
		}
		if first := offs.find(b.Entries[c], e.Offset); first != nil {
			switch {
			case strict:
			case SameHash(first.PayloadHash, e.PayloadHash):
				res.Duplicates++
			default:
				err := &PositionReusedError{Chain: c, Offset: e.Offset, HighestAudited: e.Offset,
					StoredHash: first.PayloadHash, PayloadHash: e.PayloadHash}
				res.Flagged = append(res.Flagged, NewFlag(e, FlagPositionReused, err.Error()))
			}
			continue
		}
		offs.add(e)
		b.Entries[c] = append(b.Entries[c], e)
	}
	sort.Slice(b.Chains, func(i, j int) bool {
		if b.Chains[i].Topic != b.Chains[j].Topic {
			return b.Chains[i].Topic < b.Chains[j].Topic
		}
		return b.Chains[i].Partition < b.Chains[j].Partition
	})
	return b, res, nil
}

// chainOffsets finds a chain's repeated offsets in a batch. Offsets come in
// increasing order (a partition is read in order), and then one above the
// last is new without a lookup: the map is built only once an offset comes
// out of order (10,000-entry Index calls spent 5% in it).
type chainOffsets struct {
	last int64
	offs map[int64]*Entry // nil while offsets increase
}

// find returns the entry of es (the chain's entries so far) at offset, or nil.
func (o *chainOffsets) find(es []*Entry, offset int64) *Entry {
	if offset > o.last {
		return nil
	}
	if o.offs == nil {
		o.offs = make(map[int64]*Entry, 2*len(es))
		for _, e := range es {
			o.offs[e.Offset] = e
		}
	}
	return o.offs[offset]
}

func (o *chainOffsets) add(e *Entry) {
	o.last = max(o.last, e.Offset)
	if o.offs != nil {
		o.offs[e.Offset] = e
	}
}

// Fresh returns the entries of chain c in b that the store does not hold
// yet. stored holds the payload hashes of c's stored entries at the batch's
// offsets, read under the chain's lock; highest is the chain's highest
// stored offset. An entry stored with the same payload hash is a
// re-processing and is dropped; with another, the append must fail and
// store nothing: the error is a *PositionReusedError.
func (b *Batch) Fresh(c Chain, stored map[int64][]byte, highest int64) ([]*Entry, error) {
	return b.split(c, stored, highest, func(_ *Entry, err *PositionReusedError) error { return err })
}

// IndexFresh is Fresh for Index: an entry at a position stored with another
// payload hash is not fresh and comes back as a FlagPositionReused flag,
// and dups counts the entries stored with the same payload hash.
func (b *Batch) IndexFresh(c Chain, stored map[int64][]byte, highest int64) (fresh []*Entry, dups int, flags []Flag) {
	fresh, _ = b.split(c, stored, highest, func(e *Entry, err *PositionReusedError) error {
		flags = append(flags, NewFlag(e, FlagPositionReused, err.Error()))
		return nil
	})
	return fresh, len(b.Entries[c]) - len(fresh) - len(flags), flags
}

// split returns the entries of chain c not in stored; reused is called for
// each one stored with another payload hash, and its error ends the split.
func (b *Batch) split(c Chain, stored map[int64][]byte, highest int64, reused func(*Entry, *PositionReusedError) error) ([]*Entry, error) {
	es := b.Entries[c]
	fresh := make([]*Entry, 0, len(es))
	for _, e := range es {
		h, ok := stored[e.Offset]
		if !ok {
			fresh = append(fresh, e)
		} else if !SameHash(h, e.PayloadHash) {
			err := &PositionReusedError{Chain: c, Offset: e.Offset, HighestAudited: highest,
				StoredHash: h, PayloadHash: e.PayloadHash}
			if err := reused(e, err); err != nil {
				return nil, err
			}
		}
	}
	return fresh, nil
}

// Link chains fresh (not yet stored) entries after head: Seq, PrevHash and
// Hash are set, and the new head is returned.
func Link(head Head, fresh []*Entry) Head {
	for _, e := range fresh {
		head.Extend(e)
	}
	return head
}

// Extend links one fresh entry after h and advances h to it.
func (h *Head) Extend(e *Entry) {
	e.Seq = h.Seq + 1
	e.PrevHash = h.Hash
	e.Hash = ComputeHash(e)
	h.Seq, h.Hash = e.Seq, e.Hash
	if e.Offset > h.MaxOffset {
		h.MaxOffset = e.Offset
	}
}

// maxHashLen bounds the hash fields; SHA-256 needs 32, keyed hashes up to 64.
const maxHashLen = 64

// maxText bounds every text field, so one bad entry cannot bloat the ledger.
const maxText = 1024

// Validate reports why e cannot be stored, wrapping ErrInvalidEntry.
func Validate(e *Entry) error { return validate(e, TagCache{}) }

func validate(e *Entry, tags TagCache) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s/%d@%d: %s", ErrInvalidEntry, e.Topic, e.Partition, e.Offset, fmt.Sprintf(format, a...))
	}
	switch {
	case e.Topic == "":
		return bad("empty topic")
	case e.Partition < 0:
		return bad("negative partition")
	case e.Offset < 0:
		return bad("negative offset")
	case e.DecisionTime.IsZero():
		return bad("zero decision time")
	case e.DecisionTime.Year() < 2000 || e.DecisionTime.Year() > 9999:
		return bad("decision time %s out of range", e.DecisionTime.Format("2006-01-02"))
	}
	switch e.Decision {
	case Delivered, Dropped, Quarantined:
	default:
		return bad("unknown decision %q", e.Decision)
	}
	if len(e.KeyHash) > maxHashLen || len(e.PayloadHash) > maxHashLen || len(e.SubjectHash) > maxHashLen {
		return bad("a hash field is longer than %d bytes", maxHashLen)
	}
	badText := func(s string) bool {
		return len(s) > maxText || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
	}
	ok := !badText(e.Topic) && !badText(e.Dataset) && !badText(string(e.Decision)) && !badText(e.PlanVersion)
	for _, r := range e.Reasons {
		ok = ok && !badText(r)
	}
	for _, d := range e.Deliveries {
		ok = ok && !badText(d.AgreementID) && !badText(d.Topic) && !badText(d.DeliveryID)
	}
	for _, s := range e.Skips {
		ok = ok && !badText(s.AgreementID) && !badText(s.Reason)
	}
	if !ok {
		return bad("a text field is longer than %d bytes, not UTF-8 or holds NUL", maxText)
	}
	// Delivery ids locate their entry (LocateDelivery): one that is not
	// DeliveryID of this record and agreement could never be looked up.
	var want [DeliveryIDLen]byte
	for i, d := range e.Deliveries {
		if string(tags.tag(d.AgreementID, e.Topic).AppendID(want[:0], e.Partition, e.Offset)) != d.DeliveryID {
			return bad("delivery %d (agreement %q): id %q is not the delivery id of this record (ledger.DeliveryID)", i+1, d.AgreementID, d.DeliveryID)
		}
	}
	return nil
}

// Consumer is the consumer agency of a delivery topic
// (`deliver.<consumer>.<agreement id>`), or "" when the topic has another form.
func Consumer(deliveryTopic string) string {
	c, _ := names.ConsumerOfDeliver(deliveryTopic)
	return c
}

// SameHash compares two hashes; nil and empty are equal.
func SameHash(a, b []byte) bool { return bytes.Equal(a, b) }
