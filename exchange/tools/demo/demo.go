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

// Run publishes realistic records to every dataset's ingress topic of x's
// plan at about rate records per second in all, a few percent of them stale,
// malformed or under an unknown schema id, so that every path of the
// exchange shows. It returns when ctx is cancelled.
func Run(ctx context.Context, x *app.App, rate int) error {
	a := env{cfg: x.Config(), reg: x.Registry(), log: x.Config().Logger}
	if rate <= 0 {
		rate = 20
	}
	plan := x.Plan()
	kc, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer kc.Close()
	w := kc.Writer("") // each message names its topic
	defer w.Close()
	type source struct {
		topic string
		gen   *gen.Generator
	}
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
		sources = append(sources, source{topic: names.Ingress(ds), gen: g})
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
		if err := w.WriteMessages(ctx, kafka.Message{Topic: s.topic, Key: key, Value: value}); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn("demo publish failed; retrying next tick", "topic", s.topic, "err", err)
			continue
		}
		sent++
	}
}
