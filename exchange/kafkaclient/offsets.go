package kafkaclient

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// EndOffsets returns the end offset (the next offset to be written) of every
// partition of topic. A topic the broker does not know is an error that
// wraps kafka.UnknownTopicOrPartition.
func (c *Clients) EndOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	admin := c.Admin()
	meta, err := admin.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	known := false
	var reqs []kafka.OffsetRequest
	for _, t := range meta.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		known = true
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		}
	}
	if !known {
		return nil, fmt.Errorf("metadata of %s: %w", topic, kafka.UnknownTopicOrPartition)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	resp, err := admin.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, len(reqs))
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("end offsets of %s: %d of %d partitions answered", topic, len(out), len(reqs))
	}
	return out, nil
}
