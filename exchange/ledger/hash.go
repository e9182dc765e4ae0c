package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// HashVersion labels the canonical encoding hashed into every entry. A new
// encoding gets a new tag; verify recomputes with the tag of the encoding the
// entry was written with.
const HashVersion = "exchange.ledger.entry.v1"

// HashVersionTerms labels the encoding of entries whose deliveries carry
// the agreement terms' content hash: v1 plus each delivery's content hash.
// An entry is encoded in it exactly when one of its deliveries has a
// content hash, so entries written before keep verifying under v1, and
// stripping the hashes from a newer entry changes its encoding (and hash).
const HashVersionTerms = "exchange.ledger.entry.v2"

// hasTerms reports whether e is encoded under HashVersionTerms.
func hasTerms(e *Entry) bool {
	for i := range e.Deliveries {
		if e.Deliveries[i].ContentHash != "" {
			return true
		}
	}
	return false
}

// HashSize is the size of entry and checkpoint hashes (SHA-256).
const HashSize = sha256.Size

// Canonical returns the canonical encoding of e: the version tag
// (HashVersion, or HashVersionTerms when deliveries carry content hashes), then every
// field in a fixed order, each string and byte slice prefixed by its 4-byte
// big-endian length, each list by its element count, integers big-endian,
// times as microseconds since the Unix epoch behind a presence byte, and
// last PrevHash. Stores keep microsecond time precision, so the encoding
// uses exactly that. Nil and empty slices encode the same.
func Canonical(e *Entry) []byte {
	return AppendCanonical(make([]byte, 0, 256+len(e.Reasons)*24+len(e.Deliveries)*96+len(e.Skips)*48), e)
}

// AppendCanonical appends Canonical(e) to b.
func AppendCanonical(b []byte, e *Entry) []byte {
	terms := hasTerms(e)
	if terms {
		b = appendString(b, HashVersionTerms)
	} else {
		b = appendString(b, HashVersion)
	}
	b = appendString(b, e.Topic)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Partition))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Offset))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = appendString(b, e.Dataset)
	b = appendBytes(b, e.KeyHash)
	b = appendBytes(b, e.PayloadHash)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(e.SchemaID)))
	b = appendString(b, string(e.Decision))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Reasons)))
	for _, r := range e.Reasons {
		b = appendString(b, r)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Deliveries)))
	for _, d := range e.Deliveries {
		b = appendString(b, d.AgreementID)
		b = appendString(b, d.Topic)
		b = appendString(b, d.DeliveryID)
		if terms {
			b = appendString(b, d.ContentHash)
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Skips)))
	for _, s := range e.Skips {
		b = appendString(b, s.AgreementID)
		b = appendString(b, s.Reason)
	}
	b = appendString(b, e.PlanVersion)
	b = appendBytes(b, e.SubjectHash)
	b = appendTime(b, e.EventTime)
	b = appendTime(b, e.DecisionTime)
	b = appendBytes(b, e.PrevHash)
	return b
}

// ComputeHash returns SHA-256 over Canonical(e). It covers Seq and PrevHash
// but not Hash itself.
func ComputeHash(e *Entry) []byte {
	bp := bufPool.Get().(*[]byte)
	*bp = AppendCanonical((*bp)[:0], e)
	h := sha256.Sum256(*bp)
	if cap(*bp) <= 64<<10 { // do not keep huge buffers around
		bufPool.Put(bp)
	}
	return h[:]
}

// bufPool recycles encoding buffers: hashing is on the append path.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Normalize brings e to the precision the stores keep: times are truncated
// to microseconds and put in UTC. Append calls it before hashing, so the hash
// of a stored entry can be recomputed from what the store returns.
func Normalize(e *Entry) {
	e.EventTime = normTime(e.EventTime)
	e.DecisionTime = normTime(e.DecisionTime)
}

func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro()))
}
