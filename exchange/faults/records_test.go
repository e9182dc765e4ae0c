package faults

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// kind is what a published record exercises; each has a known outcome
// under the example policy (see expectationOf).
type kind int

const (
	goodNorth   kind = iota // valid, fresh, region north: both agreements
	goodSouth               // valid, fresh, region south: statistics only (social's filter)
	stale                   // administered two days ago: freshness:stale
	badAge                  // age 200: quality:age_in_range
	badMagic                // first byte not the wire format's magic
	truncated               // Avro body cut short
	unknownID               // a schema id nobody registered
	tooLarge                // value over serve's 512 KiB record limit
	badUTF8                 // invalid UTF-8 inside a string field
	hugeLength              // a string length prefix of ~2^62 bytes
	tombstone               // null value
	manyHeaders             // 100 headers, over serve's limit of 64
	numKinds
)

var kindNames = [...]string{"good-north", "good-south", "stale", "bad-age", "bad-magic", "truncated", "unknown-id", "too-large", "bad-utf8", "huge-length", "tombstone", "many-headers"}

func (k kind) String() string { return kindNames[k] }

// goodMix is the traffic of most scenarios: mostly deliverable records,
// some quarantined for data reasons (stale, quality) and a few broken frames.
func goodMix(i int) kind {
	switch i % 20 {
	case 7:
		return stale
	case 13:
		return badAge
	case 19:
		return badMagic
	}
	if i%2 == 0 {
		return goodNorth
	}
	return goodSouth
}

// poisonMix is the poison scenario's traffic: half the records poison of
// every sort, the other half good; a few hundred KiB-sized ones at a lower rate.
func poisonMix(i int) kind {
	if i%2 == 0 {
		if i%4 == 0 {
			return goodNorth
		}
		return goodSouth
	}
	switch k := kind(2 + (i/2)%int(numKinds-2)); k {
	case tooLarge:
		if (i/2)%(int(numKinds-2)*5) != int(tooLarge-2) {
			return truncated // one too-large record in five rounds: they are 600 KiB each
		}
		return k
	default:
		return k
	}
}

// expectation is what should become of one ingress record.
type expectation struct {
	kind kind
	// reason: the quarantine reason code it must carry; "" = it passes the
	// dataset's checks.
	reason string
	// deliver: agreements that must receive it.
	deliver []string
	// skip: agreements that must not receive it, with the skip reason the
	// ledger must show.
	skip map[string]string
	// either: agreements that receive it or skip it with the given reason,
	// depending on the plan the record was decided on (revocation); the
	// ledger entry says which, and the delivery topics must agree with it.
	either map[string]string
}

func (w *world) expectationOf(k kind) expectation {
	e := expectation{kind: k}
	switch k {
	case goodNorth:
		e.deliver = []string{w.social, w.stats}
	case goodSouth:
		e.deliver = []string{w.stats}
		e.skip = map[string]string{w.social: policy.SkipFilter}
	case stale:
		e.reason = policy.ReasonFreshnessStale
	case badAge:
		e.reason = policy.QualityReason("age_in_range")
	case badMagic, truncated, hugeLength:
		e.reason = policy.ReasonDecodeMalformed
	case badUTF8:
		// Avro strings are UTF-8: anything else is malformed.
		e.reason = policy.ReasonDecodeMalformed
	case unknownID:
		e.reason = policy.ReasonSchemaUnknownID
	case tooLarge:
		e.reason = policy.ReasonSizeTooLarge
	case tombstone:
		e.reason = policy.ReasonDecodeTombstone
	case manyHeaders:
		e.reason = policy.ReasonHeadersInvalid
	}
	switch w.revocation {
	case revoking:
		e = w.revise(e)
	case revoked:
		if e.reason == "" && e.either == nil {
			e.deliver = []string{w.stats}
			e.skip = map[string]string{w.social: policy.SkipRevoked}
		}
	}
	return e
}

// record builds the next record of kind k, records its expectation, and
// returns the message to publish.
func (w *world) record(k kind, now time.Time) kafka.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	key := fmt.Sprintf("%s-%06d", w.suffix, w.seq)
	w.expect[key] = w.expectationOf(k)
	rec := w.gen.Record(now, k == stale)
	rec["record_id"] = key
	switch k {
	case goodNorth:
		rec["region"] = "north"
	case goodSouth:
		rec["region"] = "south"
	case badAge:
		rec["age"] = 200
	}
	body, err := avro.Marshal(w.schema, rec)
	if err != nil {
		w.t.Errorf("encoding a %s record: %v", k, err)
	}
	value := schemas.AppendFrame(nil, w.schemaID)
	switch k {
	case badMagic:
		value[0] = 0x7f
	case truncated:
		body = body[:len(body)/2]
	case unknownID:
		value = schemas.AppendFrame(nil, 1<<30+w.seq%1000)
	case tooLarge:
		body = append(body, bytes.Repeat([]byte{'x'}, 600<<10)...)
	case badUTF8:
		// record_id is the first field: its length prefix, then the key;
		// replace the key's bytes with an invalid UTF-8 sequence of the
		// same length.
		n := len(key)
		off := len(avroLong(int64(n)))
		copy(body[off:off+n], bytes.Repeat([]byte{0xff, 0xfe}, n)[:n])
	case hugeLength:
		// record_id's length prefix claims 2^62 bytes.
		n := len(avroLong(int64(len(key))))
		body = append(avroLong(1<<62), body[n:]...)
	}
	m := kafka.Message{Key: []byte(key), Value: append(value, body...)}
	switch k {
	case tombstone:
		m.Value = nil
	case manyHeaders:
		for i := range 100 {
			m.Headers = append(m.Headers, kafka.Header{Key: fmt.Sprintf("h%d", i), Value: []byte("v")})
		}
	}
	return m
}

// avroLong is the zig-zag varint encoding of v.
func avroLong(v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	var out []byte
	for u >= 0x80 {
		out = append(out, byte(u)|0x80)
		u >>= 7
	}
	return append(out, byte(u))
}

// publisher writes ingress records with acks=all, retrying a chunk until it
// is acknowledged (a failed write is an unknown outcome: the retry may
// duplicate records in ingress, which the checker treats as two records
// with the same expectation).
func (w *world) publisher() *kafka.Writer {
	wr := &kafka.Writer{
		Addr: kafka.TCP(w.brokers...), Topic: w.ingress, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchSize: 500,
		BatchBytes: 900 << 10, MaxAttempts: 3, WriteTimeout: 10 * time.Second, Transport: w.pubTransport,
	}
	w.t.Cleanup(func() { wr.Close() })
	return wr
}

// publish writes n records of the mix starting at index from; it returns
// once all are acknowledged or ctx ends.
func (w *world) publish(ctx context.Context, wr *kafka.Writer, mix func(int) kind, from, n int) error {
	const chunk = 100
	for i := from; i < from+n; i += chunk {
		msgs := make([]kafka.Message, 0, chunk)
		now := time.Now()
		for j := i; j < min(i+chunk, from+n); j++ {
			msgs = append(msgs, w.record(mix(j), now))
		}
		if err := w.send(ctx, wr, msgs); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) send(ctx context.Context, wr *kafka.Writer, msgs []kafka.Message) error {
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := wr.WriteMessages(wctx, msgs...)
		cancel()
		if err == nil {
			w.mu.Lock()
			for _, m := range msgs {
				w.acked[string(m.Key)] = true
			}
			w.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publishing: %w (last error %v)", ctx.Err(), err)
		}
		if attempt%20 == 1 {
			w.t.Logf("publishing %d records failed (attempt %d), retrying: %v", len(msgs), attempt, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(50+rand.IntN(200)) * time.Millisecond):
		}
	}
}

// stream publishes n records of mix in chunks of per records, one chunk
// every gap, in the background. The returned channel yields publish's
// result once.
func (w *world) stream(wr *kafka.Writer, mix func(int) kind, n, per int, gap time.Duration) <-chan error {
	out := make(chan error, 1)
	go func() {
		t := time.NewTicker(gap)
		defer t.Stop()
		for i := 0; i < n; i += per {
			if err := w.publish(w.ctx, wr, mix, i, min(per, n-i)); err != nil {
				out <- err
				return
			}
			select {
			case <-w.ctx.Done():
				out <- w.ctx.Err()
				return
			case <-t.C:
			}
		}
		out <- nil
	}()
	return out
}

// published returns how many records were built so far (acknowledged or not).
func (w *world) published() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}
