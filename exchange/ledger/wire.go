// The audit topic's message format: a batch of entries of one chain, each
// in its canonical encoding before it is chained.

package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// AuditBatchFormat tags the value of every audit topic message. A new layout
// gets a new tag; ParseAuditBatch refuses tags it does not know, so an old
// indexer stops (and says why) rather than misread a newer exchange's entries.
const AuditBatchFormat = "exchange.audit.batch.v1"

// ErrBadAuditBatch is wrapped by every ParseAuditBatch error.
var ErrBadAuditBatch = errors.New("malformed audit batch")

// AppendAuditBatch appends the audit topic encoding of entries to b: the
// format tag, the entry count, then each entry's canonical encoding
// (Canonical) with its chain fields cleared, behind its length. The
// indexer assigns Seq, PrevHash and Hash, so what the runtime writes to
// Kafka is exactly what the chain will cover.
func AppendAuditBatch(b []byte, entries []Entry) []byte {
	b = appendString(b, AuditBatchFormat)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for i := range entries {
		e := entries[i] // shallow copy: the chain fields are cleared, the caller's entry is not
		e.Seq, e.PrevHash, e.Hash = 0, nil, nil
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		b = AppendCanonical(b, &e)
		binary.BigEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	}
	return b
}

// ParseAuditBatch decodes an audit topic message value written by
// AppendAuditBatch. It never panics on arbitrary input: a truncated,
// oversized or unknown value is an error wrapping ErrBadAuditBatch that
// says which entry and field it stopped at. Decoded entries are not
// validated (Validate) and share no memory with b.
func ParseAuditBatch(b []byte) ([]Entry, error) {
	r := wireReader{b: b}
	tag := r.str("format tag")
	if r.err == nil && tag != AuditBatchFormat {
		return nil, fmt.Errorf("%w: format %q is not %q", ErrBadAuditBatch, truncate(tag), AuditBatchFormat)
	}
	n := r.count("entry count", 8)
	if r.err != nil {
		return nil, r.err
	}
	entries := make([]Entry, n)
	for i := range entries {
		size := int(r.u32("entry length"))
		if r.err == nil && size > len(r.b)-r.pos {
			r.fail("entry length", fmt.Errorf("%d bytes, %d left", size, len(r.b)-r.pos))
		}
		if r.err != nil {
			return nil, fmt.Errorf("entry %d of %d: %w", i+1, n, r.err)
		}
		er := wireReader{b: r.b[r.pos : r.pos+size]}
		er.entry(&entries[i])
		if er.err == nil && er.pos != len(er.b) {
			er.fail("entry", fmt.Errorf("%d bytes after the last field", len(er.b)-er.pos))
		}
		if er.err != nil {
			return nil, fmt.Errorf("entry %d of %d: %w", i+1, n, er.err)
		}
		r.pos += size
	}
	if r.pos != len(r.b) {
		return nil, fmt.Errorf("%w: %d bytes after entry %d", ErrBadAuditBatch, len(r.b)-r.pos, n)
	}
	return entries, nil
}

// wireReader reads the canonical encoding; the first error sticks and
// every later read returns zero values.
type wireReader struct {
	b   []byte
	pos int
	err error
}

func (r *wireReader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d: %v", ErrBadAuditBatch, field, r.pos, err)
	}
}

func (r *wireReader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.pos {
		r.fail(field, fmt.Errorf("needs %d bytes, %d left", n, len(r.b)-r.pos))
		return nil
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p
}

func (r *wireReader) u32(field string) uint32 {
	p := r.take(field, 4)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *wireReader) u64(field string) uint64 {
	p := r.take(field, 8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

// count reads a list length; each element needs at least minSize bytes,
// so a forged count cannot make the reader allocate beyond the input.
func (r *wireReader) count(field string, minSize int) int {
	n := r.u32(field)
	if r.err == nil && uint64(n)*uint64(minSize) > uint64(len(r.b)-r.pos) {
		r.fail(field, fmt.Errorf("%d elements cannot fit in %d bytes", n, len(r.b)-r.pos))
		return 0
	}
	return int(n)
}

func (r *wireReader) str(field string) string {
	n := r.u32(field)
	if r.err != nil {
		return ""
	}
	return string(r.take(field, int(min(n, uint32(len(r.b)+1)))))
}

func (r *wireReader) bytes(field string) []byte {
	n := r.u32(field)
	if r.err != nil {
		return nil
	}
	p := r.take(field, int(min(n, uint32(len(r.b)+1))))
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *wireReader) time(field string) time.Time {
	p := r.take(field, 1)
	if p == nil {
		return time.Time{}
	}
	switch p[0] {
	case 0:
		return time.Time{}
	case 1:
		return time.UnixMicro(int64(r.u64(field))).UTC()
	default:
		r.pos--
		r.fail(field, fmt.Errorf("presence byte %d", p[0]))
		return time.Time{}
	}
}

// entry reads one canonical encoding (AppendCanonical) into e.
func (r *wireReader) entry(e *Entry) {
	var terms bool
	switch tag := r.str("version tag"); {
	case r.err != nil:
		return
	case tag == HashVersion:
	case tag == HashVersionTerms:
		terms = true
	default:
		r.fail("version tag", fmt.Errorf("unknown entry encoding %q", truncate(tag)))
		return
	}
	e.Topic = r.str("topic")
	e.Partition = int32(r.u32("partition"))
	e.Offset = int64(r.u64("offset"))
	e.Seq = int64(r.u64("seq"))
	e.Dataset = r.str("dataset")
	e.KeyHash = r.bytes("key hash")
	e.PayloadHash = r.bytes("payload hash")
	e.SchemaID = int(int64(r.u64("schema id")))
	e.Decision = Decision(r.str("decision"))
	if n := r.count("reason count", 4); n > 0 {
		e.Reasons = make([]string, n)
		for i := range e.Reasons {
			e.Reasons[i] = r.str("reason")
		}
	}
	perDelivery := 12
	if terms {
		perDelivery = 16
	}
	if n := r.count("delivery count", perDelivery); n > 0 {
		e.Deliveries = make([]Delivery, n)
		for i := range e.Deliveries {
			d := &e.Deliveries[i]
			d.AgreementID = r.str("delivery agreement")
			d.Topic = r.str("delivery topic")
			d.DeliveryID = r.str("delivery id")
			if terms {
				d.ContentHash = r.str("delivery content hash")
			}
		}
	}
	if n := r.count("skip count", 8); n > 0 {
		e.Skips = make([]Skip, n)
		for i := range e.Skips {
			e.Skips[i].AgreementID = r.str("skip agreement")
			e.Skips[i].Reason = r.str("skip reason")
		}
	}
	e.PlanVersion = r.str("plan version")
	e.SubjectHash = r.bytes("subject hash")
	e.EventTime = r.time("event time")
	e.DecisionTime = r.time("decision time")
	e.PrevHash = r.bytes("previous hash")
	if r.err == nil && terms && !hasTerms(e) {
		// AppendCanonical picks v2 exactly when a delivery has a content
		// hash: any other v2 value would not re-encode to itself.
		r.fail("version tag", fmt.Errorf("%s entry without a delivery content hash", HashVersionTerms))
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
