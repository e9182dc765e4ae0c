package exchange

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
}

// decide routes one ingress record under plan. It never fails: anything
// wrong with the record becomes a quarantine with reason codes.
func (w *Worker) decide(plan *policy.Plan, m *kafka.Message, now time.Time, batchSpan trace.SpanContext, d *policy.Decision) recordResult {
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
		k := sha256.Sum256(m.Key)
		e.KeyHash = append(hashes[:0:sha256.Size], k[:]...)
	}
	if m.Value != nil {
		p := sha256.Sum256(m.Value)
		e.PayloadHash = append(hashes[sha256.Size:sha256.Size], p[:]...)
	}

	// Headers: drop reserved ones, remember the publisher's traceparent,
	// bound count and size.
	var (
		kept        []kafka.Header
		traceparent string
		headerBytes int
	)
	for _, h := range m.Headers {
		headerBytes += len(h.Key) + len(h.Value)
		if isReserved(h.Key) {
			continue
		}
		if strings.EqualFold(h.Key, HeaderTraceparent) {
			traceparent = string(h.Value)
		}
		kept = append(kept, h)
	}

	quarantine := func(value []byte, headers []kafka.Header, reasons ...policy.Reason) recordResult {
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
		detail := strings.Join(details, "; ")
		if len(detail) > maxDetailHeaderBytes {
			cut := maxDetailHeaderBytes
			for cut > 0 && !utf8.RuneStart(detail[cut]) {
				cut--
			}
			detail = detail[:cut]
		}
		key := m.Key
		if len(key) > maxQuarantineKeyBytes {
			key = nil // see size:too_large; the source position is in exchange-source
		}
		hs := make([]kafka.Header, 0, len(headers)+3)
		hs = append(hs, headers...)
		hs = append(hs,
			kafka.Header{Key: HeaderReason, Value: []byte(strings.Join(codesList, ","))},
			kafka.Header{Key: HeaderDetail, Value: []byte(detail)},
			kafka.Header{Key: HeaderSource, Value: []byte(sourceRef(m))},
		)
		return recordResult{entry: e, out: []kafka.Message{{
			Topic: names.Quarantine(dataset), Key: key, Value: value, Headers: hs,
		}}}
	}

	badHeaders := len(m.Headers) > w.cfg.MaxHeaders || headerBytes > w.cfg.MaxHeaderBytes
	tooLarge := len(m.Key)+len(m.Value) > w.cfg.MaxRecordBytes
	if badHeaders || tooLarge {
		// The quarantine copy must itself fit a produce request: drop what
		// is over the limits; exchange-source points at the original.
		var reasons []policy.Reason
		value, headers := m.Value, kept
		if badHeaders {
			headers = nil
			reasons = append(reasons, policy.Reason{Code: policy.ReasonHeadersInvalid,
				Detail: fmt.Sprintf("%d headers of %d bytes exceed the limits of %d headers, %d bytes; headers not copied",
					len(m.Headers), headerBytes, w.cfg.MaxHeaders, w.cfg.MaxHeaderBytes)})
		}
		if tooLarge {
			value = []byte{}
			reasons = append(reasons, policy.Reason{Code: policy.ReasonSizeTooLarge,
				Detail: fmt.Sprintf("key and value of %d bytes exceed the limit of %d bytes; value (and a key over %d bytes) not copied, see %s",
					len(m.Key)+len(m.Value), w.cfg.MaxRecordBytes, maxQuarantineKeyBytes, HeaderSource)})
		}
		return quarantine(value, headers, reasons...)
	}
	if m.Value == nil {
		return quarantine(nil, kept, policy.Reason{Code: policy.ReasonDecodeTombstone, Detail: "null value"})
	}
	id, body, err := schemas.ParseFrame(m.Value)
	if err != nil {
		var fe *schemas.FrameError
		detail := "not in the wire format"
		if errors.As(err, &fe) {
			detail = fe.Detail
		}
		return quarantine(m.Value, kept, policy.Reason{Code: policy.ReasonDecodeMalformed, Detail: detail})
	}
	e.SchemaID = id

	// EvaluateInto reuses d's buffers: d belongs to this record's slot and
	// is reused only for the next batch, after this one's produce returned.
	plan.EvaluateInto(policy.Record{Dataset: dataset, SchemaID: id, Body: body}, now, d)
	e.EventTime = d.EventTime
	e.SubjectHash = bytes.Clone(d.SubjectHash) // d's buffer is reused
	if d.Quarantined {
		r := quarantine(m.Value, kept, d.Reasons...)
		for _, wr := range d.Warnings {
			r.entry.Reasons = append(r.entry.Reasons, wr.Code)
		}
		return r
	}
	for _, wr := range d.Warnings {
		e.Reasons = append(e.Reasons, wr.Code)
	}

	eventTime := d.EventTime
	if eventTime.IsZero() {
		// No event-time field in the contract: the record's Kafka timestamp.
		eventTime = m.Time
	}
	delivered := 0
	arenaSize := len(m.Topic) + 64 + 32 // source, traceparent, event time
	for i := range d.Outcomes {
		if d.Outcomes[i].Delivered {
			delivered++
			arenaSize += len(d.Outcomes[i].AgreementID) + 32
		}
	}
	// Header values of this record share one allocation; so do its
	// deliveries' headers.
	arena := make([]byte, 0, arenaSize)
	arena = eventTime.UTC().AppendFormat(arena, eventTimeLayout)
	eventTimeHeader := carve(arena, 0)
	at := len(arena)
	arena = appendSourceRef(arena, m)
	source := carve(arena, at)
	at = len(arena)
	arena = appendChildTraceparent(arena, traceparent, batchSpan)
	tp := carve(arena, at)

	var out []kafka.Message
	var headers []kafka.Header
	if delivered > 0 {
		out = make([]kafka.Message, 0, delivered)
		headers = make([]kafka.Header, 0, 5*delivered)
		e.Deliveries = make([]ledger.Delivery, 0, delivered)
	}
	for _, o := range d.Outcomes {
		if !o.Delivered {
			e.Skips = append(e.Skips, ledger.Skip{AgreementID: o.AgreementID, Reason: o.Skip})
			continue
		}
		at = len(arena)
		arena = append(arena, o.AgreementID...)
		agr := carve(arena, at)
		at = len(arena)
		arena = w.tags.AppendDeliveryID(arena, o.AgreementID, m.Topic, int32(m.Partition), m.Offset)
		id := carve(arena, at)
		e.Deliveries = append(e.Deliveries, ledger.Delivery{AgreementID: o.AgreementID, Topic: o.Topic, DeliveryID: string(id)})
		h := len(headers)
		headers = append(headers,
			kafka.Header{Key: HeaderAgreement, Value: agr},
			kafka.Header{Key: HeaderDeliveryID, Value: id},
			kafka.Header{Key: HeaderSource, Value: source},
			kafka.Header{Key: HeaderEventTime, Value: eventTimeHeader},
			kafka.Header{Key: HeaderTraceparent, Value: tp},
		)
		out = append(out, kafka.Message{
			Topic: o.Topic,
			// The source key: Hash puts it on one partition, keeping per-key order.
			Key:     m.Key,
			Value:   o.Value,
			Headers: headers[h:len(headers):len(headers)],
		})
	}
	if len(e.Deliveries) > 0 {
		e.Decision = ledger.Delivered
	} else {
		e.Decision = ledger.Dropped
	}
	return recordResult{entry: e, out: out}
}

// batchCounts aggregates a batch's metrics so label lookups happen once per
// label set, not once per record.
type batchCounts struct {
	in          map[string]int
	delivered   map[[2]string]int
	skipped     map[[3]string]int
	quarantined map[[2]string]int
	warned      map[[2]string]int
}

// prepared is a decided batch on its way to the sink: everything to
// produce and append, and the records to commit afterwards.
type prepared struct {
	buf     int             // index of the batch's buffer (consume)
	ctx     context.Context // carries the batch span
	span    trace.Span
	start   time.Time
	now     time.Time
	batch   []fetched
	results []recordResult
	msgs    []kafka.Message
	entries []ledger.Entry
}

// prepare decides every record of batch on plan (read once for the batch).
// decisions are the batch's reusable decision slots.
func (w *Worker) prepare(ctx context.Context, plan *policy.Plan, batch []fetched, decisions []policy.Decision) *prepared {
	p := &prepared{start: time.Now(), now: w.now(), batch: batch}
	p.ctx, p.span = w.tracer.Start(ctx, "exchange.batch", trace.WithAttributes(
		attribute.Int("exchange.records", len(batch)),
		attribute.String("exchange.plan_version", plan.Version()),
	))
	p.results = make([]recordResult, len(batch))
	p.entries = make([]ledger.Entry, len(batch))
	p.msgs = make([]kafka.Message, 0, len(batch)*2)
	sc := p.span.SpanContext()
	for i := range batch {
		p.results[i] = w.decide(plan, &batch[i].msg, p.now, sc, &decisions[i])
		p.msgs = append(p.msgs, p.results[i].out...)
		p.entries[i] = p.results[i].entry
	}
	return p
}

// produceBatch writes every delivery and quarantine copy of a prepared
// batch, acknowledged by all in-sync replicas (first step of its finish).
func (w *Worker) produceBatch(ctx context.Context, p *prepared) error {
	ctx = trace.ContextWithSpan(ctx, p.span)
	if err := w.produce(ctx, p.msgs); err != nil {
		p.span.SetStatus(codes.Error, "produce abandoned")
		return fmt.Errorf("producing %d messages: %w", len(p.msgs), err)
	}
	failpoint("after_produce")
	return nil
}

// auditBatches appends the ledger entries of a group of produced batches
// in one append and only then commits their offsets in one commit. A failed
// commit is logged and counted: the records are re-processed later, with
// the same delivery ids, and the ledger keeps one entry each. Returns an
// error only when the ledger append is abandoned (ctx ended): nothing of
// the group is committed then.
func (w *Worker) auditBatches(ctx context.Context, s *session, group []*prepared) error {
	entries := group[0].entries
	if len(group) > 1 {
		n := 0
		for _, p := range group {
			n += len(p.entries)
		}
		entries = make([]ledger.Entry, 0, n)
		for _, p := range group {
			entries = append(entries, p.entries...)
		}
	}
	// The append is traced under the group's first batch.
	actx := trace.ContextWithSpan(ctx, group[0].span)
	if err := w.appendLedger(actx, entries); err != nil {
		for _, p := range group {
			p.span.SetStatus(codes.Error, "ledger append abandoned")
		}
		return fmt.Errorf("appending %d ledger entries: %w", len(entries), err)
	}
	failpoint("after_ledger")
	batches := make([][]fetched, len(group))
	for i, p := range group {
		batches[i] = p.batch
		s.observeLag(p.batch) // before the commit: whoever sees the commit sees the lag
	}
	committed := s.commit(ctx, batches...)
	failpoint("after_commit")

	w.metrics.ledgerGroup.Observe(float64(len(group)))
	for _, p := range group {
		w.observe(p.results, p.now)
		w.metrics.batchSize.Observe(float64(len(p.batch)))
		w.metrics.batchDur.Observe(time.Since(p.start).Seconds())
		p.span.SetAttributes(
			attribute.Int("exchange.messages_out", len(p.msgs)),
			attribute.Int("exchange.ledger_group_batches", len(group)),
			attribute.Int("exchange.partitions_committed", committed),
		)
	}
	return nil
}

// produce writes msgs synchronously, retrying failed ones with backoff until
// all are acknowledged or ctx ends. It never gives up on its own: a record
// that cannot be written blocks its batch (and so its partition), it is
// never skipped.
func (w *Worker) produce(ctx context.Context, msgs []kafka.Message) error {
	pending := msgs
	for attempt := 1; len(pending) > 0; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
		err := w.writer.WriteMessages(actx, pending...)
		cancel()
		if err == nil {
			return nil
		}
		// WriteMessages is not atomic (kafka-go #777, #1152): WriteErrors
		// says which messages failed; retry only those. Any other error,
		// including a deadline, is an unknown outcome for all (kafka-go
		// #1427): retry all; duplicates carry the same delivery id.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(pending) {
			failed := make([]kafka.Message, 0, werrs.Count())
			for i, e := range werrs {
				if e != nil {
					failed = append(failed, pending[i])
				}
			}
			pending = failed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.metrics.produceRetr.Inc()
		w.log.Warn("produce failed; retrying", "err", err, "messages", len(pending), "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
	return nil
}

// awaitLedger returns once the ledger is not failing (appendLedger clears
// w.paused on its next success), or ctx's error.
func (w *Worker) awaitLedger(ctx context.Context) error {
	for w.paused.Load() {
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// appendLedger appends entries, retrying with backoff until it succeeds or
// ctx ends. While it fails, consumption is paused (fail closed): no further
// batch is processed and nothing is committed.
func (w *Worker) appendLedger(ctx context.Context, entries []ledger.Entry) error {
	defer func() {
		if w.paused.CompareAndSwap(true, false) {
			w.metrics.setPaused(false)
		}
	}()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, w.cfg.LedgerTimeout)
		err := w.ledger.Append(actx, entries)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.paused.CompareAndSwap(false, true) {
			w.metrics.setPaused(true)
		}
		w.metrics.ledgerRetr.Inc()
		w.log.Error("ledger append failed: consumption paused; retrying", "err", err, "entries", len(entries), "attempt", attempt)
		if !sleepCtx(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

// commit commits, per partition, the offset after the highest one of the
// batches' records fetched under the session's current generation, through
// that generation's CommitOffsets; it returns how many partitions it
// committed. Every record of the batch was produced and audited, and
// records of a partition are fetched in order from the offset committed when
// their generation began, so the highest offset is the end of the
// contiguous processed prefix (commits are positional: committing past an
// unprocessed record would lose it, kafka-go #764, #1354). Records of an
// older generation are left uncommitted (kafka-go #1398, #1308): their
// partitions may belong to another member now, and they are re-fetched from
// the committed offset by whoever owns them. A failed commit is not fatal:
// the records are re-processed later, with the same delivery ids.
//
// The commit is bound to its generation: CommitOffsets sends the
// generation's id and member id, so the broker refuses it once the group has
// moved on (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS),
// and kafka-go fails it outright once the generation's coordinator
// connection is closed. That makes a backwards commit impossible without
// reading the committed offsets first (the worker used to, as
// dropBehindCommitted, when it committed through the group Reader's shared
// queue): within one generation a partition has one owner, which starts at
// the offset committed when the generation began (read by kafka-go after the
// generation formed, when no commit of an older generation can be accepted
// any more) and commits increasing offsets in order on one connection; a
// commit of an older generation, whenever it arrives, is refused.
//
// The commit has its own context: on shutdown it still completes for a
// batch that finished (the final commit).
func (s *session) commit(ctx context.Context, batches ...[]fetched) int {
	w := s.w
	gen := s.cur.Load()
	offsets := map[string]map[int]int64{}
	stale, partitions := 0, 0
	for _, batch := range batches {
		for i := range batch {
			f := &batch[i]
			if f.gen != gen {
				stale++
				continue
			}
			parts := offsets[f.msg.Topic]
			if parts == nil {
				parts = map[int]int64{}
				offsets[f.msg.Topic] = parts
			}
			// A committed offset names the next record to read (kafka-go's
			// Reader commits msg.Offset+1 too; CommitOffsets sends the value
			// as given).
			next := f.msg.Offset + 1
			if prev, ok := parts[f.msg.Partition]; !ok {
				parts[f.msg.Partition] = next
				partitions++
			} else if next > prev {
				parts[f.msg.Partition] = next
			}
		}
	}
	if stale > 0 {
		w.metrics.commits.WithLabelValues("skipped_rebalance").Inc()
		w.log.Info("records fetched before a rebalance left uncommitted", "records", stale)
	}
	if partitions == 0 {
		return 0
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.CommitTimeout)
	defer cancel()
	// CommitOffsets takes no context (kafka-go bounds it by the group's
	// network timeout, 5 s); wait for it at most CommitTimeout. A commit
	// given up on here may still arrive: it is of this generation, and of
	// offsets this worker processed, in order on the generation's
	// connection.
	done := make(chan error, 1)
	go func() { done <- gen.CommitOffsets(offsets) }()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		err = cctx.Err()
	}
	if err != nil {
		w.metrics.commits.WithLabelValues("error").Inc()
		w.log.Warn("commit failed; records will be re-processed", "err", err,
			"generation", gen.ID, "partitions", partitions)
		return 0
	}
	w.metrics.commits.WithLabelValues("ok").Inc()
	return partitions
}

// observe updates the per-record metrics of a processed batch.
func (w *Worker) observe(results []recordResult, now time.Time) {
	m := w.metrics
	c := batchCounts{
		in: map[string]int{}, delivered: map[[2]string]int{}, skipped: map[[3]string]int{},
		quarantined: map[[2]string]int{}, warned: map[[2]string]int{},
	}
	fresh := map[string][]float64{}
	for i := range results {
		e := &results[i].entry
		c.in[e.Dataset]++
		for _, d := range e.Deliveries {
			c.delivered[[2]string{e.Dataset, d.AgreementID}]++
		}
		for _, sk := range e.Skips {
			c.skipped[[3]string{e.Dataset, sk.AgreementID, sk.Reason}]++
		}
		if e.Decision == ledger.Quarantined {
			for _, r := range e.Reasons {
				c.quarantined[[2]string{e.Dataset, r}]++
			}
		} else {
			for _, r := range e.Reasons {
				c.warned[[2]string{e.Dataset, r}]++
			}
		}
		if !e.EventTime.IsZero() {
			fresh[e.Dataset] = append(fresh[e.Dataset], now.Sub(e.EventTime).Seconds())
		}
	}
	for k, n := range c.in {
		m.in.WithLabelValues(k).Add(float64(n))
	}
	for k, n := range c.delivered {
		m.delivered.WithLabelValues(k[0], k[1]).Add(float64(n))
	}
	for k, n := range c.skipped {
		m.skipped.WithLabelValues(k[0], k[1], k[2]).Add(float64(n))
	}
	for k, n := range c.quarantined {
		m.quarantined.WithLabelValues(k[0], k[1]).Add(float64(n))
	}
	for k, n := range c.warned {
		m.warned.WithLabelValues(k[0], k[1]).Add(float64(n))
	}
	for ds, vs := range fresh {
		h := m.freshness.WithLabelValues(ds)
		for _, v := range vs {
			h.Observe(v)
		}
	}
}
