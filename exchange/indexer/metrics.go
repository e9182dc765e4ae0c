package indexer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the indexer's and the LagWatch's Prometheus metrics. Every
// name is listed here and nowhere else; labels hold result codes only.
//
//	exchange_index_entries_total{result}   entries indexed: stored (chained), duplicate (already indexed), flagged (refused, or a malformed audit message)
//	exchange_index_messages_total          audit messages indexed (their offsets committed after their Index call)
//	exchange_index_batch_entries           histogram: entries per Index call
//	exchange_index_write_seconds           histogram: duration of a successful Index call
//	exchange_index_write_failures_total    Index and RecordFlags calls that failed (each is retried)
//	exchange_index_store_failing           1 while the store refuses the index's writes, else 0
//	exchange_index_reader_stalls_total     audit partition readers replaced by the stall watch (no message fetched for StallTimeout while the partition held more)
//	exchange_index_lag_messages            audit messages not yet indexed (LagWatch)
//	exchange_index_lag_seconds             age of the oldest audit message not yet indexed (LagWatch)
type Metrics struct {
	stored     prometheus.Counter
	duplicates prometheus.Counter
	flagged    prometheus.Counter
	messages   prometheus.Counter
	batch      prometheus.Histogram
	write      prometheus.Histogram
	failures   prometheus.Counter
	failing    prometheus.Gauge
	stalls     prometheus.Counter
	lagMsgs    prometheus.Gauge
	lagSecs    prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil:
// registered nowhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	entries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "exchange_index_entries_total", Help: "Audit entries indexed, by result (stored, duplicate, flagged).",
	}, []string{"result"})
	m := &Metrics{
		stored:     entries.WithLabelValues("stored"),
		duplicates: entries.WithLabelValues("duplicate"),
		flagged:    entries.WithLabelValues("flagged"),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_index_messages_total", Help: "Audit topic messages indexed and committed.",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "exchange_index_batch_entries", Help: "Entries per index write.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "exchange_index_write_seconds", Help: "Duration of successful index writes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_index_write_failures_total", Help: "Index writes that failed and were retried.",
		}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_index_store_failing", Help: "1 while the store refuses index writes.",
		}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_index_reader_stalls_total", Help: "Audit partition readers replaced after fetching nothing for the stall timeout while their partition held more.",
		}),
		lagMsgs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_index_lag_messages", Help: "Audit topic messages not yet indexed.",
		}),
		lagSecs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_index_lag_seconds", Help: "Age of the oldest audit topic message not yet indexed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(entries, m.messages, m.batch, m.write, m.failures, m.failing, m.stalls, m.lagMsgs, m.lagSecs)
	}
	return m
}
