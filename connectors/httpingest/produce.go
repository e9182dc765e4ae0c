package httpingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
)

// Position is where Kafka stored one record.
type Position struct {
	Partition int   `json:"partition"`
	Offset    int64 `json:"offset"`
}

// Producer writes one request's records to a topic and returns their
// positions in order, only once every record is acknowledged by all
// in-sync replicas. An error means some records may have been written
// and others not: the request is not accepted.
type Producer interface {
	Produce(ctx context.Context, topic string, msgs []kafka.Message) ([]Position, error)
}

// KafkaProducer is the Producer over kafkaclient's writers: one writer
// per topic (publish.NewWriter: acks=all, synchronous, the partitioner of
// `exchange publish` and Java clients), shared by concurrent requests.
type KafkaProducer struct {
	clients *kafkaclient.Clients
	mu      sync.Mutex
	writers map[string]*kafka.Writer
}

var _ Producer = (*KafkaProducer)(nil)

// NewKafkaProducer produces through c's writers; Close closes them (not c).
func NewKafkaProducer(c *kafkaclient.Clients) *KafkaProducer {
	return &KafkaProducer{clients: c, writers: map[string]*kafka.Writer{}}
}

// Produce writes msgs to topic. Each message's WriterData carries the slot
// of its position: kafka-go's Completion sets Partition and Offset on the
// written messages before WriteMessages returns.
func (p *KafkaProducer) Produce(ctx context.Context, topic string, msgs []kafka.Message) ([]Position, error) {
	positions := make([]Position, len(msgs))
	for i := range msgs {
		msgs[i].WriterData = &positions[i]
	}
	if err := p.writer(topic).WriteMessages(ctx, msgs...); err != nil {
		return nil, fmt.Errorf("producing %d records to %s: %w", len(msgs), topic, kafkaclient.Explain(err))
	}
	return positions, nil
}

func (p *KafkaProducer) writer(topic string) *kafka.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.writers[topic]
	if w == nil {
		w = publish.NewWriter(p.clients, topic)
		w.Completion = recordPositions
		p.writers[topic] = w
	}
	return w
}

// recordPositions is the writers' Completion: it copies where each
// acknowledged message landed into its request's slot.
func recordPositions(msgs []kafka.Message, err error) {
	if err != nil {
		return
	}
	for i := range msgs {
		if pos, ok := msgs[i].WriterData.(*Position); ok {
			*pos = Position{Partition: msgs[i].Partition, Offset: msgs[i].Offset}
		}
	}
}

// Close closes the writers, waiting for what they have in flight.
func (p *KafkaProducer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for topic, w := range p.writers {
		if err := w.Close(); err != nil && first == nil {
			first = fmt.Errorf("closing the writer of %s: %w", topic, err)
		}
		delete(p.writers, topic)
	}
	return first
}
