package timeliness

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/sla"
)

// Producer writes notices to the agencies' topics.
type Producer interface {
	Produce(ctx context.Context, ns []sla.Notice) error
}

// Notifier stores notices and produces them. Safe for concurrent use.
type Notifier struct {
	store   sla.Store
	out     Producer // nil: store only
	log     *slog.Logger
	metrics *Metrics
	timeout time.Duration
}

// NewNotifier returns a notifier over st and out (nil: notices are only
// stored); m and log may be nil.
func NewNotifier(st sla.Store, out Producer, m *Metrics, log *slog.Logger) *Notifier {
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{store: st, out: out, log: log, metrics: m, timeout: 10 * time.Second}
}

// Send stores ns, then produces them. A notice that cannot be stored is
// still produced; one that cannot be produced (after the producer's own
// retries) is counted and logged: notices never hold up records.
func (n *Notifier) Send(ctx context.Context, ns []sla.Notice) {
	if len(ns) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, n.timeout)
	err := n.store.AddNotices(sctx, ns)
	cancel()
	if err != nil {
		n.log.Warn("storing notices failed", "notices", len(ns), "err", err)
	}
	if n.out != nil {
		pctx, cancel := context.WithTimeout(ctx, n.timeout)
		err = n.out.Produce(pctx, ns)
		cancel()
		if err != nil {
			n.metrics.noticeFailures.Add(float64(len(ns)))
			n.log.Warn("producing notices failed", "notices", len(ns), "err", err)
			return
		}
	}
	for _, x := range ns {
		n.metrics.notices.WithLabelValues(x.Kind).Inc()
	}
}

// Registrar registers a schema under a subject and returns its id
// (*schemas.Registry).
type Registrar interface {
	Register(ctx context.Context, subject, schemaJSON string) (int, error)
}

// KafkaProducer produces notices to notices.<agency>: Avro in the wire
// format under the id of sla.NoticeSchema in subject notices.<agency>-value,
// keyed by dataset (a dataset's notices keep their order), acks=all. It
// registers the schema and creates the topic on an agency's first notice.
type KafkaProducer struct {
	clients           *kafkaclient.Clients
	writer            *kafka.Writer
	reg               Registrar
	partitions, rf    int
	mu                sync.Mutex
	ids               map[string]int // agency → schema id, topic ensured
	skipTopicCreation bool
}

// NewKafkaProducer builds the producer's clients from k (the exchange's
// Kafka block: its topic layout applies to the notices topics).
func NewKafkaProducer(k exchange.KafkaConfig, skipTopicCreation bool, reg Registrar) (*KafkaProducer, error) {
	k = k.WithDefaults()
	c, err := kafkaclient.New(k.Config)
	if err != nil {
		return nil, fmt.Errorf("notices producer: %w", err)
	}
	w := c.Writer("") // acks=all, synchronous, key hash
	w.MaxAttempts = 5
	return &KafkaProducer{clients: c, writer: w, reg: reg, partitions: k.Partitions, rf: k.ReplicationFactor,
		ids: map[string]int{}, skipTopicCreation: skipTopicCreation}, nil
}

// Produce writes ns; it returns once all are acknowledged, or the error.
func (p *KafkaProducer) Produce(ctx context.Context, ns []sla.Notice) error {
	msgs := make([]kafka.Message, 0, len(ns))
	for i := range ns {
		id, err := p.prepare(ctx, ns[i].Agency)
		if err != nil {
			return err
		}
		v, err := sla.EncodeNotice(&ns[i], id)
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: names.Notices(ns[i].Agency), Key: []byte(ns[i].Dataset), Value: v})
	}
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("producing %d notices: %w", len(msgs), err)
	}
	return nil
}

// prepare registers the notice schema for agency and creates its topic,
// once; it returns the schema id.
func (p *KafkaProducer) prepare(ctx context.Context, agency string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.ids[agency]; ok {
		return id, nil
	}
	topic := names.Notices(agency)
	id, err := p.reg.Register(ctx, names.ValueSubject(topic), sla.NoticeSchema)
	if err != nil {
		return 0, fmt.Errorf("registering the notice schema for %s: %w", agency, err)
	}
	if !p.skipTopicCreation {
		// Through this producer's own transport: its writer sees the topic at once.
		if err := exchange.EnsureTopics(ctx, p.clients, []string{topic}, p.partitions, p.rf); err != nil {
			return 0, err
		}
	}
	p.ids[agency] = id
	return id, nil
}

// Close closes the writer and the clients.
func (p *KafkaProducer) Close() error {
	err := p.writer.Close()
	p.clients.Close()
	return err
}
