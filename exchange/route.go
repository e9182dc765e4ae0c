// Routing: one ingress record under a plan becomes its ledger entry and the
// messages to write (deliveries or a quarantine copy). No Kafka I/O here.

package exchange

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// Headers the exchange writes. Every header starting with ReservedPrefix is
// stripped from ingress records: a publisher cannot forge them.
const (
	ReservedPrefix       = "exchange-"
	HeaderAgreement      = "exchange-agreement"
	HeaderDeliveryID     = "exchange-delivery-id"
	HeaderSource         = "exchange-source"
	HeaderEventTime      = "exchange-event-time"
	HeaderReason         = "exchange-reason"
	HeaderDetail         = "exchange-detail"
	HeaderTraceparent    = "traceparent"
	eventTimeLayout      = "2006-01-02T15:04:05.000Z07:00" // RFC 3339 with milliseconds
	maxDetailHeaderBytes = 1024
	// maxQuarantineKeyBytes: a quarantine copy keeps the source key up to
	// this size (an oversized record may be oversized by its key).
	maxQuarantineKeyBytes = 4096
)

// DeliveryID is the stable id of one delivery (ledger.DeliveryID): the
// same for every re-processing of the record, so consumers can drop
// duplicates, and it locates the record's ledger entry.
func DeliveryID(agreementID, topic string, partition int, offset int64) string {
	return ledger.DeliveryID(agreementID, topic, int32(partition), offset)
}

// sourceRef is the exchange-source header value: topic/partition/offset.
func sourceRef(m *kafka.Message) string {
	return string(appendSourceRef(nil, m))
}

func appendSourceRef(dst []byte, m *kafka.Message) []byte {
	dst = append(dst, m.Topic...)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(m.Partition), 10)
	dst = append(dst, '/')
	return strconv.AppendInt(dst, m.Offset, 10)
}

// carve returns the bytes appended to arena since start, capped so that
// later appends to the arena never write into them.
func carve(arena []byte, start int) []byte { return arena[start:len(arena):len(arena)] }

// isReserved reports whether a header key is in the exchange's namespace
// (case-insensitive: "Exchange-Agreement" is as forged as the lower case).
func isReserved(key string) bool {
	return len(key) >= len(ReservedPrefix) && strings.EqualFold(key[:len(ReservedPrefix)], ReservedPrefix)
}

// recordResult is everything one record produced: its ledger entry and the
// messages to write (deliveries and quarantine).
type recordResult struct {
	entry ledger.Entry
	out   []kafka.Message
	// reasons of a quarantine, with their details (a copy: the decision's
	// buffers are reused), for the activity log's first occurrences.
	reasons []policy.Reason
}

// router routes ingress records under a plan. It holds only what routing
// needs, the record limits, the delivery-id tag cache and the record keys:
// no client, store or clock (the decision time is an argument), so it runs
// on a compiled plan alone. It is not safe for concurrent use (the tag
// cache, the keys' HMAC states); the worker routes on its consume goroutine
// only.
type router struct {
	maxRecordBytes int
	maxHeaders     int
	maxHeaderBytes int
	tags           ledger.TagCache
	keys           recordKeys
	// gate is the lifecycle snapshot the batch being routed is decided
	// on (set per batch by prepare); nil: no gate (no lifecycle store).
	gate *gateSnapshot
}

// newRouter returns a router with random record keys (WithRecordKeys sets
// the real ones).
func newRouter(cfg *WorkerConfig) router {
	r := router{
		maxRecordBytes: cfg.MaxRecordBytes,
		maxHeaders:     cfg.MaxHeaders,
		maxHeaderBytes: cfg.MaxHeaderBytes,
		tags:           ledger.TagCache{},
	}
	r.setKeys(randomRecordKeys())
	return r
}

// routeBatch routes every record of batch on plan (read once for the
// batch) at decision time now, then signs the batch's deliveries;
// batchSpan is the parent of the records' traceparents, decisions are the
// batch's reusable decision slots (one per record; see route).
func (r *router) routeBatch(plan *policy.Plan, batch []fetched, now time.Time, batchSpan trace.SpanContext, decisions []policy.Decision) []recordResult {
	results := make([]recordResult, len(batch))
	for i := range batch {
		results[i] = r.route(plan, &batch[i].msg, now, batchSpan, &decisions[i])
	}
	r.keys.sign(results)
	return results
}

// route routes one ingress record under plan. It never fails: anything
// wrong with the record becomes a quarantine with reason codes. Its
// deliveries are not signed yet (routeBatch signs a batch's at once).
func (r *router) route(plan *policy.Plan, m *kafka.Message, now time.Time, batchSpan trace.SpanContext, d *policy.Decision) recordResult {
	e := r.newEntry(plan, m, now)
	kept, traceparent, headerBytes := screenHeaders(m.Headers)
	if value, headers, reasons := r.overLimits(m, kept, headerBytes); reasons != nil {
		return quarantine(e, m, value, headers, reasons...)
	}
	if m.Value == nil {
		return quarantine(e, m, nil, kept, policy.Reason{Code: policy.ReasonDecodeTombstone, Detail: "null value"})
	}
	id, body, err := schemas.ParseFrame(m.Value)
	if err != nil {
		var fe *schemas.FrameError
		detail := "not in the wire format"
		if errors.As(err, &fe) {
			detail = fe.Detail
		}
		return quarantine(e, m, m.Value, kept, policy.Reason{Code: policy.ReasonDecodeMalformed, Detail: detail})
	}
	e.SchemaID = id

	// EvaluateInto reuses d's buffers: d belongs to this record's slot and
	// is reused only for the next batch, after this one's produce returned.
	plan.EvaluateInto(policy.Record{Dataset: e.Dataset, SchemaID: id, Body: body}, now, d)
	e.EventTime = d.EventTime
	e.SubjectHash = bytes.Clone(d.SubjectHash) // d's buffer is reused
	if d.Quarantined {
		res := quarantine(e, m, m.Value, kept, d.Reasons...)
		for _, wr := range d.Warnings {
			res.entry.Reasons = append(res.entry.Reasons, wr.Code)
		}
		return res
	}
	for _, wr := range d.Warnings {
		e.Reasons = append(e.Reasons, wr.Code)
	}
	if r.gate != nil {
		// The kill switch: the stored lifecycle state overrides the plan.
		r.gate.apply(d, now)
	}
	return r.deliver(e, m, d, traceparent, batchSpan)
}

// newEntry starts the ledger entry of m: its position, dataset, hashes,
// plan version and decision time. The key hash is keyed (RecordKeys.KeyHash):
// record keys are often guessable ids, and a plain SHA-256 of one is
// reversed by trying candidates. (Entries written before the change keep
// their plain hashes; the chain hashes the bytes, whichever form they are.)
func (r *router) newEntry(plan *policy.Plan, m *kafka.Message, now time.Time) ledger.Entry {
	dataset, _ := names.DatasetOfIngress(m.Topic)
	e := ledger.Entry{
		Topic:        m.Topic,
		Partition:    int32(m.Partition),
		Offset:       m.Offset,
		Dataset:      dataset,
		PlanVersion:  plan.Version(),
		DecisionTime: now,
	}
	// One allocation for both hashes.
	hashes := make([]byte, 2*sha256.Size)
	if m.Key != nil {
		e.KeyHash = r.keys.appendKeyHash(hashes[:0:sha256.Size], m.Key)
	}
	if m.Value != nil {
		p := sha256.Sum256(m.Value)
		e.PayloadHash = append(hashes[sha256.Size:sha256.Size], p[:]...)
	}
	return e
}

// screenHeaders drops reserved headers, and returns the ones kept, the
// publisher's traceparent and the total size of all of them (reserved
// ones included: the limits bound what the publisher sent).
func screenHeaders(in []kafka.Header) (kept []kafka.Header, traceparent string, headerBytes int) {
	for _, h := range in {
		headerBytes += len(h.Key) + len(h.Value)
		if isReserved(h.Key) {
			continue
		}
		if strings.EqualFold(h.Key, HeaderTraceparent) {
			traceparent = string(h.Value)
		}
		kept = append(kept, h)
	}
	return kept, traceparent, headerBytes
}

// overLimits returns the reasons m breaks the header or size limits (nil
// when it breaks none), with the value and headers its quarantine copy
// keeps: the copy must itself fit a produce request, so what is over the
// limits is dropped; exchange-source points at the original.
func (r *router) overLimits(m *kafka.Message, kept []kafka.Header, headerBytes int) (value []byte, headers []kafka.Header, reasons []policy.Reason) {
	badHeaders := len(m.Headers) > r.maxHeaders || headerBytes > r.maxHeaderBytes
	tooLarge := len(m.Key)+len(m.Value) > r.maxRecordBytes
	value, headers = m.Value, kept
	if badHeaders {
		headers = nil
		reasons = append(reasons, policy.Reason{Code: policy.ReasonHeadersInvalid,
			Detail: fmt.Sprintf("%d headers of %d bytes exceed the limits of %d headers, %d bytes; headers not copied",
				len(m.Headers), headerBytes, r.maxHeaders, r.maxHeaderBytes)})
	}
	if tooLarge {
		value = []byte{}
		reasons = append(reasons, policy.Reason{Code: policy.ReasonSizeTooLarge,
			Detail: fmt.Sprintf("key and value of %d bytes exceed the limit of %d bytes; value (and a key over %d bytes) not copied, see %s",
				len(m.Key)+len(m.Value), r.maxRecordBytes, maxQuarantineKeyBytes, HeaderSource)})
	}
	return value, headers, reasons
}

// quarantine completes e as quarantined for reasons and builds the
// quarantine copy of m: value and headers as given, plus exchange-reason,
// exchange-detail and exchange-source.
func quarantine(e ledger.Entry, m *kafka.Message, value []byte, headers []kafka.Header, reasons ...policy.Reason) recordResult {
	e.Decision = ledger.Quarantined
	codesList := make([]string, 0, len(reasons))
	details := make([]string, 0, len(reasons))
	for _, r := range reasons {
		codesList = append(codesList, r.Code)
		if r.Detail != "" {
			details = append(details, r.Code+": "+r.Detail)
		}
	}
	e.Reasons = append(e.Reasons, codesList...)
	key := m.Key
	if len(key) > maxQuarantineKeyBytes {
		key = nil // see size:too_large; the source position is in exchange-source
	}
	hs := make([]kafka.Header, 0, len(headers)+3)
	hs = append(hs, headers...)
	hs = append(hs,
		kafka.Header{Key: HeaderReason, Value: []byte(strings.Join(codesList, ","))},
		kafka.Header{Key: HeaderDetail, Value: []byte(truncateDetail(strings.Join(details, "; ")))},
		kafka.Header{Key: HeaderSource, Value: []byte(sourceRef(m))},
	)
	return recordResult{entry: e, reasons: slices.Clone(reasons), out: []kafka.Message{{
		Topic: names.Quarantine(e.Dataset), Key: key, Value: value, Headers: hs,
	}}}
}

// truncateDetail cuts detail to maxDetailHeaderBytes on a rune boundary.
func truncateDetail(detail string) string {
	if len(detail) <= maxDetailHeaderBytes {
		return detail
	}
	cut := maxDetailHeaderBytes
	for cut > 0 && !utf8.RuneStart(detail[cut]) {
		cut--
	}
	return detail[:cut]
}

// deliver completes e with d's outcomes and builds one delivery per
// delivered agreement, with the exchange's headers.
func (r *router) deliver(e ledger.Entry, m *kafka.Message, d *policy.Decision, traceparent string, batchSpan trace.SpanContext) recordResult {
	delivered := 0
	arenaSize := len(m.Topic) + 64 + 32 // source, traceparent, event time
	for i := range d.Outcomes {
		if d.Outcomes[i].Delivered {
			delivered++
			// agreement, delivery id, delivery key
			arenaSize += len(d.Outcomes[i].AgreementID) + 32 + max(len(m.Key), sha256.Size)
		}
	}
	// Header values of this record share one allocation; so do its
	// deliveries' headers.
	h := recordHeaders{arena: make([]byte, 0, arenaSize)}
	h.shared(m, d.EventTime, traceparent, batchSpan)

	var out []kafka.Message
	if delivered > 0 {
		out = make([]kafka.Message, 0, delivered)
		h.headers = make([]kafka.Header, 0, deliveryHeaders*delivered)
		e.Deliveries = make([]ledger.Delivery, 0, delivered)
	}
	for i := range d.Outcomes {
		o := &d.Outcomes[i]
		if !o.Delivered {
			e.Skips = append(e.Skips, ledger.Skip{AgreementID: o.AgreementID, Reason: o.Skip})
			continue
		}
		hs, id := h.delivery(r.tags, o.AgreementID, m)
		e.Deliveries = append(e.Deliveries, ledger.Delivery{AgreementID: o.AgreementID, Topic: o.Topic, DeliveryID: string(id), ContentHash: o.ContentHash})
		out = append(out, kafka.Message{
			Topic: o.Topic,
			// The delivery key, one per source key and agreement: Hash
			// puts it on one partition, keeping per-key order.
			Key:     h.deliveryKey(&r.keys, o, m.Key),
			Value:   o.Value,
			Headers: hs,
		})
	}
	if len(e.Deliveries) > 0 {
		e.Decision = ledger.Delivered
	} else {
		e.Decision = ledger.Dropped
	}
	return recordResult{entry: e, out: out}
}

// deliveryHeaders is the headers of a delivery: exchange-agreement,
// exchange-delivery-id, exchange-source, exchange-event-time, traceparent,
// and the slot routeBatch fills with exchange-signature.
const deliveryHeaders = 6

// recordHeaders builds the header values and keys of one record's
// deliveries in one byte arena and their headers in one slice.
type recordHeaders struct {
	arena   []byte
	headers []kafka.Header
	// The values every delivery of the record shares.
	eventTime, source, traceparent []byte
}

// shared appends the values every delivery carries: event time (the
// record's Kafka timestamp when the contract names no event-time field),
// source position and the child traceparent.
func (h *recordHeaders) shared(m *kafka.Message, eventTime time.Time, traceparent string, batchSpan trace.SpanContext) {
	if eventTime.IsZero() {
		// No event-time field in the contract: the record's Kafka timestamp.
		eventTime = m.Time
	}
	h.arena = eventTime.UTC().AppendFormat(h.arena, eventTimeLayout)
	h.eventTime = carve(h.arena, 0)
	at := len(h.arena)
	h.arena = appendSourceRef(h.arena, m)
	h.source = carve(h.arena, at)
	at = len(h.arena)
	h.arena = appendChildTraceparent(h.arena, traceparent, batchSpan)
	h.traceparent = carve(h.arena, at)
}

// delivery returns the headers of m's delivery under agreementID and its
// delivery id.
func (h *recordHeaders) delivery(tags ledger.TagCache, agreementID string, m *kafka.Message) (headers []kafka.Header, id []byte) {
	at := len(h.arena)
	h.arena = append(h.arena, agreementID...)
	agr := carve(h.arena, at)
	at = len(h.arena)
	h.arena = tags.AppendDeliveryID(h.arena, agreementID, m.Topic, int32(m.Partition), m.Offset)
	id = carve(h.arena, at)
	start := len(h.headers)
	// The sixth slot stays free for exchange-signature: appending it
	// later does not copy the headers.
	h.headers = append(h.headers,
		kafka.Header{Key: HeaderAgreement, Value: agr},
		kafka.Header{Key: HeaderDeliveryID, Value: id},
		kafka.Header{Key: HeaderSource, Value: h.source},
		kafka.Header{Key: HeaderEventTime, Value: h.eventTime},
		kafka.Header{Key: HeaderTraceparent, Value: h.traceparent},
		kafka.Header{}, // the free slot
	)
	return h.headers[start : start+deliveryHeaders-1 : start+deliveryHeaders], id
}

// deliveryKey returns the Kafka key of o's delivery of a record keyed src
// (recordKeys.appendDeliveryKey), in the arena.
func (h *recordHeaders) deliveryKey(k *recordKeys, o *policy.Outcome, src []byte) []byte {
	if src == nil {
		return nil
	}
	at := len(h.arena)
	h.arena = k.appendDeliveryKey(h.arena, o, src)
	return carve(h.arena, at)
}
