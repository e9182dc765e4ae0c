package policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
)

// Evaluate decides what happens to one record at time now. It never panics
// on any body and is safe for concurrent use.
func (p *Plan) Evaluate(rec Record, now time.Time) Decision {
	var d Decision
	p.evaluate(rec, now, &d, true)
	return d
}

// EvaluateInto is Evaluate writing into d, reusing its slices (Reasons,
// Warnings, Outcomes and each Outcome's Value buffer): the caller must be
// done with the previous decision's Value buffers (e.g. produced and
// acknowledged) before reusing d. SubjectHash is always a new slice.
func (p *Plan) EvaluateInto(rec Record, now time.Time, d *Decision) {
	p.evaluate(rec, now, d, false)
}

// evaluate is Evaluate (fresh: one slab holds the subject hash and every
// delivered value) or EvaluateInto (reuse d's buffers).
func (p *Plan) evaluate(rec Record, now time.Time, d *Decision, fresh bool) {
	outs := d.Outcomes[:0]
	*d = Decision{Reasons: d.Reasons[:0], Warnings: d.Warnings[:0]}
	ds, top := p.writerOf(rec, d)
	if top == nil {
		return
	}
	st := ds.pool.Get().(*evalState)
	defer ds.pool.Put(st)
	r := rd{b: rec.Body}
	if err := decodeTop(top, &r, st.vals); err != nil {
		code := ReasonDecodeMalformed
		if errors.Is(err, errUnresolvable) {
			code = ReasonSchemaUnresolvable
		}
		d.quarantine(code, fmt.Sprintf("schema id %d: %v", rec.SchemaID, err))
		return
	}
	var f facts
	if ds.fresh != nil {
		f.eventTime, f.haveTime = ds.eventTime(st)
		d.EventTime = f.eventTime
	}
	if ds.subjectField >= 0 && p.subjectKey != nil {
		if v := &st.vals[ds.subjectField]; v.k != kNull {
			st.scratch = identifierBytes(st.scratch[:0], v)
			f.subject, f.haveSubject = p.subjectKey.sum(st, st.scratch), true
		}
	}
	ds.checkQuality(st, d)
	if ds.fresh != nil {
		p.checkFreshness(ds, now, &f, d)
	}
	if len(d.Reasons) == 0 {
		d.Reasons = nil
	}
	if len(d.Warnings) == 0 {
		d.Warnings = nil
	}
	if d.Quarantined {
		if f.haveSubject {
			d.SubjectHash = append([]byte(nil), f.subject[:]...)
		}
		d.Outcomes = outs[:0]
		return
	}
	d.Outcomes = ds.deliver(outs, st, rec, now, &f, fresh, d)
}

// facts are what the evaluation learns from a record besides its fields.
type facts struct {
	eventTime   time.Time
	haveTime    bool
	subject     [32]byte // keyed hash of the data subject
	haveSubject bool
}

// writerOf finds the record's dataset and the decoder for its writer
// schema; when there is none it quarantines the record and returns a nil
// decoder.
func (p *Plan) writerOf(rec Record, d *Decision) (*datasetPlan, *dnode) {
	ds := p.datasets[rec.Dataset]
	if ds == nil {
		d.quarantine(ReasonDatasetUnknown, "dataset "+rec.Dataset+" has no contract in plan "+p.version)
		return nil, nil
	}
	if ds.broken != "" {
		d.quarantine(ReasonSchemaUnresolvable, ds.broken)
		return ds, nil
	}
	top := ds.writers[rec.SchemaID]
	if top == nil {
		if _, ok := p.schemas[rec.SchemaID]; !ok {
			d.quarantine(ReasonSchemaUnknownID, fmt.Sprintf("schema id %d is not registered", rec.SchemaID))
		} else if why, ok := ds.unresolvable[rec.SchemaID]; ok {
			d.quarantine(ReasonSchemaUnresolvable, why)
		} else {
			d.quarantine(ReasonSchemaNotAllowed, fmt.Sprintf("schema id %d is not a version of %s", rec.SchemaID, ds.contract.Subject))
		}
		return ds, nil
	}
	if rec.Body == nil {
		d.quarantine(ReasonDecodeTombstone, "record value is null")
		return ds, nil
	}
	return ds, top
}

// checkQuality runs the quality rules: a false (or failing) rule
// quarantines the record, or warns at severity warn.
func (ds *datasetPlan) checkQuality(st *evalState, d *Decision) {
	for i := range ds.rules {
		q := &ds.rules[i]
		reason := &q.reason
		out, _, err := q.prg.Eval(st)
		if err == nil {
			if b, ok := out.(types.Bool); ok && bool(b) {
				continue
			} else if !ok {
				reason = &q.evalErr
			}
		} else {
			reason = &q.evalErr
		}
		if q.severity == agreements.SeverityWarn {
			d.Warnings = append(d.Warnings, *reason)
		} else {
			d.Quarantined = true
			d.Reasons = append(d.Reasons, *reason)
		}
	}
}

// checkFreshness quarantines a record without an event time or from the
// future, and a stale one (or flags it, as the contract says).
func (p *Plan) checkFreshness(ds *datasetPlan, now time.Time, f *facts, d *Decision) {
	switch {
	case !f.haveTime:
		d.quarantine(ReasonFreshnessMissing, "event time field "+ds.fields[ds.fresh.field].name+" is null or unreadable")
	case f.eventTime.After(now.Add(p.opts.clockSkew)):
		d.quarantine(ReasonFreshnessFuture, fmt.Sprintf("event time %s is %s ahead of the exchange clock (skew allowed %s)",
			f.eventTime.UTC().Format(time.RFC3339), f.eventTime.Sub(now).Round(time.Second), p.opts.clockSkew))
	case ds.fresh.maxAge.exceeded(f.eventTime, now):
		reason := Reason{Code: ReasonFreshnessStale, Detail: ds.fresh.maxAge.staleDetail(f.eventTime, now)}
		if ds.fresh.onStale == agreements.StaleDeliverFlagged {
			d.Warnings = append(d.Warnings, reason)
		} else {
			d.Quarantined = true
			d.Reasons = append(d.Reasons, reason)
		}
	}
}

// staleDetail names the event time, the max age and the lag: the time
// fields the ledger (event_time) and exchange-event-time carry anyway. In
// business time the lag is the active time of the calendar.
func (b *ageBound) staleDetail(eventTime, now time.Time) string {
	at := eventTime.UTC().Format(time.RFC3339)
	if b.cal != nil {
		lag := b.cal.Between(eventTime, now)
		return fmt.Sprintf("event time %s is %s old in working time of calendar %s, over the max age %s by %s",
			at, lag.Round(time.Second), b.cal.ID(), b.text, (lag - b.active).Round(time.Second))
	}
	lag := now.Sub(eventTime)
	return fmt.Sprintf("event time %s is %s old, over the max age %s by %s",
		at, lag.Round(time.Second), b.wall, (lag - b.wall).Round(time.Second))
}

// deliver decides, per agreement, whether it receives the record, then
// encodes the value for each that does. outs is reused from the last
// decision; with fresh (Evaluate), one slab holds every value.
func (ds *datasetPlan) deliver(outs []Outcome, st *evalState, rec Record, now time.Time, f *facts, fresh bool, d *Decision) []Outcome {
	if cap(outs) < len(ds.agreements) {
		outs = make([]Outcome, 0, len(ds.agreements))
	}
	// First decide who receives the record, then size the buffers.
	slabSize := 0
	if f.haveSubject {
		slabSize = len(f.subject)
	}
	for _, ap := range ds.agreements {
		var buf []byte
		if len(outs) < cap(outs) {
			buf = outs[:len(outs)+1][len(outs)].Value[:0]
		}
		o := Outcome{AgreementID: ap.info.ID, Consumer: ap.info.Consumer, Topic: ap.info.Topic, ContentHash: ap.info.ContentHash, Value: buf, KeyKept: ap.info.KeyKept}
		o.Skip = ap.check(st, now, f.eventTime, f.haveTime)
		if o.Skip == "" {
			slabSize += ap.bufSize(len(rec.Body))
		}
		outs = append(outs, o)
	}
	// The subject hash is always a fresh slice (the ledger may keep it past
	// the next record); with Evaluate, one slab also holds every value.
	var slab []byte
	if fresh || f.haveSubject {
		if !fresh {
			slabSize = len(f.subject)
		}
		slab = make([]byte, slabSize)
	}
	if f.haveSubject {
		d.SubjectHash = append(slab[:0:len(f.subject)], f.subject[:]...)
		slab = slab[len(f.subject):]
	}
	ds.encodeOutcomes(outs, st, len(rec.Body), slab, fresh)
	return outs
}

// encodeOutcomes encodes the value of every agreement that receives the
// record, into its reused buffer or (fresh) its part of slab.
func (ds *datasetPlan) encodeOutcomes(outs []Outcome, st *evalState, bodyLen int, slab []byte, fresh bool) {
	for i, ap := range ds.agreements {
		o := &outs[i]
		buf := o.Value[:0]
		o.Value = nil
		if o.Skip != "" {
			continue
		}
		if fresh {
			n := ap.bufSize(bodyLen)
			buf, slab = slab[:0:n], slab[n:]
		}
		v, err := ap.encode(buf, st, bodyLen)
		if err != nil {
			// An encoding failure is a plan bug, not the record's fault;
			// fail closed for this agreement rather than deliver garbage.
			o.Skip = SkipEncode
			continue
		}
		o.Delivered, o.Value = true, v
	}
}

// bufSize is the output buffer to reserve for this agreement's value.
func (ap *agreementPlan) bufSize(bodyLen int) int {
	if hint := int(ap.sizeHint.Load()); hint > 0 {
		return hint
	}
	return 5 + bodyLen + 80*len(ap.out)
}

func (d *Decision) quarantine(code, detail string) {
	d.Quarantined = true
	d.Reasons = append(d.Reasons, Reason{Code: code, Detail: detail})
}

// check returns why this agreement skips the record, "" when it receives it.
func (ap *agreementPlan) check(st *evalState, now, eventTime time.Time, haveTime bool) string {
	if ap.skip != "" {
		return ap.skip
	}
	if !ap.from.IsZero() && now.Before(ap.from) {
		return SkipNotYetValid
	}
	if !ap.until.IsZero() && !now.Before(ap.until) {
		return SkipExpired
	}
	if haveTime && ap.maxAge.exceeded(eventTime, now) {
		return SkipStale
	}
	if ap.filter != nil {
		out, _, err := ap.filter.Eval(st)
		if err != nil {
			return SkipFilter
		}
		if b, ok := out.(types.Bool); !ok || !bool(b) {
			return SkipFilter
		}
	}
	return ""
}

// maxSizeHint caps the remembered output size (one huge record must not
// make every later buffer huge).
const maxSizeHint = 64 << 10

// encode writes the derived record in the wire format into buf (reused when
// large enough).
func (ap *agreementPlan) encode(buf []byte, st *evalState, bodyLen int) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, ap.bufSize(bodyLen))
	}
	dst := append(buf[:0], ap.header[:]...)
	var err error
	for i := range ap.out {
		o := &ap.out[i]
		v := &st.vals[o.src]
		switch {
		case o.redact:
			dst = appendLong(dst, int64(o.nullIdx))
			continue
		case o.union:
			if v.br < 0 {
				return nil, fmt.Errorf("field %s: no union branch", st.ds.fields[o.src].name)
			}
			dst = appendLong(dst, int64(v.br))
		case o.nullIdx >= 0:
			if v.k == kNull {
				dst = appendLong(dst, int64(o.nullIdx))
				continue
			}
			dst = appendLong(dst, int64(o.baseIdx))
		}
		if dst, err = o.enc(dst, v, st); err != nil {
			return nil, fmt.Errorf("field %s: %w", st.ds.fields[o.src].name, err)
		}
	}
	if n := int64(len(dst)); n > ap.sizeHint.Load() && n <= maxSizeHint {
		ap.sizeHint.Store(n)
	}
	return dst, nil
}

// decodeTop decodes a top-level record into vals (indexed by reader field)
// and refuses trailing bytes.
func decodeTop(n *dnode, r *rd, vals []value) error {
	for i := range n.steps {
		s := &n.steps[i]
		var err error
		if s.to < 0 {
			err = s.node.skip(r, 0)
		} else {
			err = s.node.decodeValue(r, &vals[s.to])
		}
		if err != nil {
			return fmt.Errorf("field %s: %w", s.name, err)
		}
	}
	for i := range n.defs {
		vals[n.defs[i].to] = n.defs[i].val
	}
	if r.i != len(r.b) {
		return errTrailing
	}
	return nil
}

// eventTime reads the contract's event-time field.
func (ds *datasetPlan) eventTime(st *evalState) (time.Time, bool) {
	f := &ds.fields[ds.fresh.field]
	v := &st.vals[ds.fresh.field]
	switch v.k {
	case kInt:
		switch f.logicalAt(v.br) {
		case avro.TimestampMillis:
			return time.UnixMilli(v.n).UTC(), true
		case avro.TimestampMicros:
			return time.UnixMicro(v.n).UTC(), true
		case avro.Date:
			return time.Unix(v.n*86400, 0).UTC(), true
		}
	case kString:
		t, err := time.Parse(time.RFC3339Nano, unsafeString(v.b))
		if err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// SubjectHash computes the keyed hash of a data subject identifier the way
// Decision.SubjectHash is computed (for authorised ledger queries).
func SubjectHash(key []byte, identifier string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(identifier))
	return m.Sum(nil)
}

// Holder holds the current plan; the runtime swaps plans atomically while
// records flow. A record evaluated on a plan finishes on it: load once per
// record (or batch) and keep the pointer.
type Holder struct {
	p atomic.Pointer[Plan]
}

// Load returns the current plan (nil before the first Store).
func (h *Holder) Load() *Plan { return h.p.Load() }

// Store makes p the current plan.
func (h *Holder) Store(p *Plan) { h.p.Store(p) }
