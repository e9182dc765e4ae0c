package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// QuarantineReader reads the quarantine copy of one ingress record.
type QuarantineReader interface {
	// ReadQuarantined returns the record of quarantine.<dataset> whose
	// exchange-source is source (topic/partition/offset of the ingress
	// record) and which was written around at (its decision time);
	// ErrNotInQuarantine when none is there (any more).
	ReadQuarantined(ctx context.Context, dataset, source string, at time.Time) (*QuarantinedRecord, error)
}

// ErrNotInQuarantine: the quarantine topic no longer holds the record
// (retention) or never received it.
var ErrNotInQuarantine = errors.New("the record is not in the quarantine topic (retention may have removed it)")

// QuarantinedRecord is a quarantine copy: where it sits, its key and
// value as received, and the exchange's reason and detail headers.
type QuarantinedRecord struct {
	Topic          string
	Partition      int
	Offset         int64
	Time           time.Time
	Key, Value     []byte
	Reason, Detail string
}

// kafkaQuarantine reads quarantine topics with the exchange's own Kafka
// clients (its principal alone may read them, IDENTITY.md).
type kafkaQuarantine struct {
	clients *kafkaclient.Clients
	// before and after bound the search around the decision time: the
	// copy is produced after the decision and before the ledger append,
	// and process clocks may differ by a little.
	before, after time.Duration
}

// NewKafkaQuarantine returns a QuarantineReader over c.
func NewKafkaQuarantine(c *kafkaclient.Clients) QuarantineReader {
	return &kafkaQuarantine{clients: c, before: time.Minute, after: 10 * time.Minute}
}

// ReadQuarantined looks, in every partition of the topic, at the records
// written from at-before to at+after (offsets by timestamp), for the one
// whose exchange-source header is source. The copy's partition follows its
// key, which the ledger keeps only hashed, so every partition is searched.
func (k *kafkaQuarantine) ReadQuarantined(ctx context.Context, dataset, source string, at time.Time) (*QuarantinedRecord, error) {
	topic := names.Quarantine(dataset)
	admin := k.clients.Admin()
	meta, err := admin.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, kafkaclient.Explain(err))
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Name == topic && t.Error == nil {
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if len(parts) == 0 {
		return nil, ErrNotInQuarantine
	}
	starts, ends, err := k.offsets(ctx, admin, topic, parts, at.Add(-k.before))
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		start, ok := starts[p]
		if !ok || start < 0 || start >= ends[p] {
			continue
		}
		rec, err := k.scan(ctx, topic, p, start, ends[p], source, at.Add(k.after))
		if err != nil || rec != nil {
			return rec, err
		}
	}
	return nil, ErrNotInQuarantine
}

// offsets are each partition's first offset at or after from and its end
// (the next offset to be written), in two requests: kafka-go reads the
// answer of a timestamp request and of an end request for one partition
// into one value.
func (k *kafkaQuarantine) offsets(ctx context.Context, admin *kafka.Client, topic string, parts []int, from time.Time) (starts, ends map[int]int64, err error) {
	timeReqs, endReqs := make([]kafka.OffsetRequest, len(parts)), make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		timeReqs[i], endReqs[i] = kafka.TimeOffsetOf(p, from), kafka.LastOffsetOf(p)
	}
	starts, ends = map[int]int64{}, map[int]int64{}
	res, err := admin.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: timeReqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("offsets of %s at %s: %w", topic, from.Format(time.RFC3339), kafkaclient.Explain(err))
	}
	for _, po := range res.Topics[topic] {
		for off := range po.Offsets {
			if off >= 0 {
				starts[po.Partition] = off
			}
		}
	}
	res, err = admin.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: endReqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s: %w", topic, kafkaclient.Explain(err))
	}
	for _, po := range res.Topics[topic] {
		ends[po.Partition] = po.LastOffset
	}
	return starts, ends, nil
}

// scan reads partition p from start until end or a record written after
// until, and returns the one whose exchange-source is source (nil: none).
func (k *kafkaQuarantine) scan(ctx context.Context, topic string, p int, start, end int64, source string, until time.Time) (*QuarantinedRecord, error) {
	r := k.clients.Reader(kafka.ReaderConfig{Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return nil, fmt.Errorf("seeking %s/%d to %d: %w", topic, p, start, err)
	}
	for off := start; off < end; {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s/%d at %d: %w", topic, p, off, kafkaclient.Explain(err))
		}
		off = m.Offset + 1
		if m.Time.After(until) {
			return nil, nil
		}
		rec := QuarantinedRecord{Topic: topic, Partition: p, Offset: m.Offset, Time: m.Time, Key: m.Key, Value: m.Value}
		match := false
		for _, h := range m.Headers {
			switch h.Key {
			case exchange.HeaderSource:
				match = string(h.Value) == source
			case exchange.HeaderReason:
				rec.Reason = string(h.Value)
			case exchange.HeaderDetail:
				rec.Detail = string(h.Value)
			}
		}
		if match {
			return &rec, nil
		}
	}
	return nil, nil
}
