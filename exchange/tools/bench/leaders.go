package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// waitLeaders waits until every partition of every topic has a leader
// that answers: the metadata names one without an error, and a
// ListOffsets of each partition succeeds. A freshly started Apache Kafka
// answers NotLeaderForPartition for a while after the topic is created
// (issue 18's first run failed on it). Bounded by ctx; the error then
// names the last partition that was not ready and why. It returns each
// topic's partition count.
func waitLeaders(ctx context.Context, c *kafka.Client, topics []string) (map[string]int, error) {
	var last error
	for {
		counts, err := leadersReady(ctx, c, topics)
		if last = err; last == nil {
			return counts, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for partition leaders: %w (%v)", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// leadersReady returns the partition counts of topics when every partition
// has an answering leader, else what is missing first.
func leadersReady(ctx context.Context, c *kafka.Client, topics []string) (map[string]int, error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	counts := map[string]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		if len(t.Partitions) == 0 {
			return nil, fmt.Errorf("topic %s has no partitions yet", t.Name)
		}
		counts[t.Name] = len(t.Partitions)
		for _, p := range t.Partitions {
			if p.Error != nil {
				return nil, fmt.Errorf("%s/%d: %w", t.Name, p.ID, p.Error)
			}
			if p.Leader.Host == "" {
				return nil, fmt.Errorf("%s/%d has no leader", t.Name, p.ID)
			}
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	for _, t := range topics {
		if counts[t] == 0 {
			return nil, fmt.Errorf("topic %s is not in the metadata", t)
		}
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets: %w", err)
	}
	for topic, parts := range resp.Topics {
		for _, po := range parts {
			if po.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
		}
	}
	return counts, nil
}
