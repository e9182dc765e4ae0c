package outbox

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the connector's; the package doc lists them.
type metrics struct {
	published *prometheus.CounterVec
	dead      *prometheus.CounterVec
	failures  *prometheus.CounterVec
	lag       prometheus.Gauge
}

// Stages of exchange_outbox_failures_total.
const (
	stageDatabase    = "database"
	stageSchema      = "schema"
	stageProduce     = "produce"
	stageReplication = "replication"
)

func newMetrics(reg prometheus.Registerer, agency string) (*metrics, error) {
	labels := prometheus.Labels{"agency": agency}
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_outbox_rows_published_total", ConstLabels: labels,
			Help: "Outbox rows Kafka acknowledged on the dataset's ingress topic.",
		}, []string{"dataset"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_outbox_rows_dead_lettered_total", ConstLabels: labels,
			Help: "Outbox rows that did not fit and were moved to the dead-letter table (alert on any).",
		}, []string{"dataset"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_outbox_failures_total", ConstLabels: labels,
			Help: "Outbox batches that failed and will be retried, by stage.",
		}, []string{"stage"}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_outbox_lag_seconds", ConstLabels: labels,
			Help: "Age of the oldest row of the last published batch when it was published; 0 when idle.",
		}),
	}
	for _, c := range []prometheus.Collector{m.published, m.dead, m.failures, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering outbox metrics: %w", err)
		}
	}
	return m, nil
}
