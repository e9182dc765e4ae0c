package webhook

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// partition posts one assigned partition's deliveries for gen, one at a
// time and in offset order (so per-key order holds), from the offset the
// group had committed when gen began: fetch, post until acknowledged,
// commit, next. A partition reader has no group: commits go only through
// gen.CommitOffsets, bound to the generation (see exchange/session.go for
// why the group Reader's commit queue is avoided), and never before the
// endpoint answered 2xx. It returns when gen ends.
func (c *Connector) partition(gctx context.Context, gen *kafka.Generation, topic string, pa kafka.PartitionAssignment) {
	if gctx.Err() != nil {
		return
	}
	r := c.clients.Reader(kafka.ReaderConfig{
		Topic:     topic,
		Partition: pa.ID,
		MinBytes:  1,
		MaxBytes:  4 << 20,
		MaxWait:   500 * time.Millisecond,
		// One record is posted at a time; read ahead a little only.
		QueueCapacity:   16,
		ReadLagInterval: -1,
		ReadBackoffMin:  50 * time.Millisecond,
		ReadBackoffMax:  time.Second,
	})
	defer r.Close()
	defer c.metrics.lag.DeleteLabelValues(c.cfg.Agreement, strconv.Itoa(pa.ID))
	defer func() { c.fails.ok(pa.ID, c.now()) }()
	// The assignment's offset is the committed one (the next to post), or
	// kafka-go's FirstOffset sentinel when none was committed.
	start := pa.Offset
	if start < 0 && start != kafka.FirstOffset && start != kafka.LastOffset {
		start = kafka.FirstOffset
	}
	if err := r.SetOffset(start); err != nil {
		c.log.Warn("setting the fetch offset failed", "partition", pa.ID, "offset", start, "err", err)
	}
	for n := 1; ; {
		m, err := r.FetchMessage(gctx)
		if err != nil {
			if gctx.Err() != nil {
				return
			}
			c.log.Warn("fetch failed; retrying", "partition", pa.ID, "err", err, "attempt", n)
			if !sleep(gctx, backoff(n, c.cfg.MinBackoff, c.cfg.MaxBackoff, 0)) {
				return
			}
			n++
			continue
		}
		n = 1
		c.metrics.setLag(c.cfg.Agreement, pa.ID, m.HighWaterMark-m.Offset)
		if !c.deliver(gctx, &m) || !c.commit(gctx, gen, &m) {
			return
		}
		c.metrics.setLag(c.cfg.Agreement, pa.ID, m.HighWaterMark-m.Offset-1)
	}
}

// deliver posts m until the endpoint answers 2xx; false when the
// generation ended first (the record is then posted again by whoever owns
// the partition next, with the same Idempotency-Key). Nothing is posted
// while the consumer is denied the topic.
func (c *Connector) deliver(gctx context.Context, m *kafka.Message) bool {
	var body []byte
	var schemaID int
	for n := 1; ; n++ {
		if !c.awaitAuthorized(gctx) {
			return false
		}
		var a attempt
		if body == nil {
			// A registry that does not answer holds the partition too.
			b, id, err := c.dec.body(gctx, m.Value)
			if err != nil {
				a.err = err
			} else {
				body, schemaID = b, id
			}
		}
		if body != nil {
			a = c.post(gctx, m, body, schemaID)
			c.metrics.deliveries.WithLabelValues(c.cfg.Agreement, a.codeLabel()).Inc()
			if n > 1 {
				c.metrics.retries.WithLabelValues(c.cfg.Agreement).Inc()
			}
			if a.ok() {
				c.fails.ok(m.Partition, c.now())
				return true
			}
		}
		if gctx.Err() != nil {
			return false
		}
		since := c.fails.failed(m.Partition, c.now())
		c.logFailure(m, a, n, since)
		if !sleep(gctx, backoff(n, c.cfg.MinBackoff, c.cfg.MaxBackoff, a.retryAfter)) {
			return false
		}
	}
}

// logFailure logs a failed attempt: at error level when the receiver
// refuses the request as such (a 4xx but 408 and 429: most likely
// permanent, someone must act) or the delivery has failed for longer than
// alert_after; else at warn level. The response body is not logged (it
// may echo the record).
func (c *Connector) logFailure(m *kafka.Message, a attempt, n int, since time.Time) {
	level := slog.LevelWarn
	msg := "delivery failed; holding the partition and retrying"
	switch {
	case a.permanent():
		level = slog.LevelError
		msg = "the endpoint refuses the delivery (a 4xx): holding the partition and retrying, nothing is skipped; fix the receiver or its configuration"
	case c.now().Sub(since) >= c.cfg.AlertAfter:
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, msg, "partition", m.Partition, "offset", m.Offset,
		"code", a.code, "err", a.err, "attempt", n, "failing_for", c.now().Sub(since).Round(time.Millisecond))
}

// commit commits the offset after m through gen, retrying until it lands
// or gen ends (then the next owner posts m again: a duplicate with the
// same Idempotency-Key, never a gap).
func (c *Connector) commit(gctx context.Context, gen *kafka.Generation, m *kafka.Message) bool {
	for n := 1; ; n++ {
		if !c.awaitAuthorized(gctx) {
			return false
		}
		err := gen.CommitOffsets(map[string]map[int]int64{m.Topic: {m.Partition: m.Offset + 1}})
		if err == nil {
			return true
		}
		if gctx.Err() != nil {
			return false
		}
		if denied(err) {
			c.setAuthorized(false, err)
		}
		c.log.Warn("commit failed; retrying", "partition", m.Partition, "offset", m.Offset+1, "err", err, "attempt", n)
		if !sleep(gctx, backoff(n, c.cfg.MinBackoff, c.cfg.MaxBackoff, 0)) {
			return false
		}
	}
}
