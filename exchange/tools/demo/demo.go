package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
	"github.com/exchange-gov/exchange/schemas"
)

// env is what the demo reads of the assembled exchange.
type env struct {
	cfg app.Config
	reg *schemas.Registry
	log *slog.Logger
}

// Connect is the connection of one agency: its block and the options
// (the password) New needs.
type Connect func(agency string) (kafkaclient.Config, []kafkaclient.Opt, error)

// Option configures Run.
type Option func(*options)

type options struct{ as Connect }

// As publishes each dataset's records as its owner agency, connected by
// connect. Default: with the exchange's own connection block (a broker
// without ACLs).
func As(connect Connect) Option { return func(o *options) { o.as = connect } }

type source struct {
	topic string
	gen   *gen.Generator
	w     *kafka.Writer
}

// Run publishes realistic records to every dataset's ingress topic of x's
// plan at about rate records per second in all, a few percent of them stale,
// malformed or under an unknown schema id, so that every path of the
// exchange shows. It returns when ctx is cancelled.
func Run(ctx context.Context, x *app.App, rate int, opts ...Option) error {
	a := env{cfg: x.Config(), reg: x.Registry(), log: x.Config().Logger}
	if rate <= 0 {
		rate = 20
	}
	o := options{as: func(string) (kafkaclient.Config, []kafkaclient.Opt, error) { return a.cfg.Kafka.Config, nil, nil }}
	for _, opt := range opts {
		opt(&o)
	}
	plan := x.Plan()
	kc, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer kc.Close()
	writers := agencyWriters{as: o.as, ws: map[string]*kafka.Writer{}}
	defer writers.close()
	var sources []source
	var topics []string
	for _, ds := range plan.Datasets() {
		c, ok := plan.Contract(ds)
		if !ok {
			continue
		}
		latest, err := a.reg.Latest(ctx, c.Subject)
		if err != nil {
			return fmt.Errorf("demo: latest schema of %s: %w", c.Subject, err)
		}
		var opts []gen.Option
		if c.Freshness != nil {
			opts = append(opts, gen.EventTime(c.Freshness.EventTime))
		}
		opts = append(opts, gen.Mix(0.03, 0.02, 0.01))
		g, err := gen.New(latest.Avro, latest.ID, opts...)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", ds, err)
		}
		w, err := writers.of(c.Owner)
		if err != nil {
			return fmt.Errorf("demo: publishing as %s: %w", c.Owner, err)
		}
		sources = append(sources, source{topic: names.Ingress(ds), gen: g, w: w})
		topics = append(topics, names.Ingress(ds))
	}
	if len(sources) == 0 {
		return nil
	}
	if err := exchange.EnsureTopics(ctx, kc, topics, a.cfg.Kafka.Partitions, a.cfg.Kafka.ReplicationFactor); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			a.log.Info("demo stopped", "published", sent)
			return nil
		case <-tick.C:
		}
		s := sources[sent%len(sources)]
		key, value, _, err := s.gen.Next(time.Now())
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := s.w.WriteMessages(ctx, kafka.Message{Topic: s.topic, Key: key, Value: value}); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn("demo publish failed; retrying next tick", "topic", s.topic, "err", err)
			continue
		}
		sent++
	}
}

// agencyWriters holds one Writer per publishing agency.
type agencyWriters struct {
	as      Connect
	ws      map[string]*kafka.Writer
	clients []*kafkaclient.Clients
}

func (a *agencyWriters) of(agency string) (*kafka.Writer, error) {
	if w, ok := a.ws[agency]; ok {
		return w, nil
	}
	cfg, opts, err := a.as(agency)
	if err != nil {
		return nil, err
	}
	kc, err := kafkaclient.New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	a.clients = append(a.clients, kc)
	w := kc.Writer("") // each message names its topic
	a.ws[agency] = w
	return w, nil
}

func (a *agencyWriters) close() {
	for _, w := range a.ws {
		w.Close()
	}
	for _, kc := range a.clients {
		kc.Close()
	}
}
