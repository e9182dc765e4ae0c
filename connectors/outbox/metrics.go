package outbox

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the connector's; the package doc lists them.
type metrics struct {
	published *prometheus.CounterVec
	dead      *prometheus.CounterVec
	failures  *prometheus.CounterVec
	lag       prometheus.GaugeFunc
	// oldest is the created_at (Unix nanoseconds) of the oldest row read
	// and not yet published, 0 when caught up: the lag gauge grows while
	// publishing fails.
	oldest atomic.Int64
}

// waiting notes rows read and not yet published; an older row already
// waiting keeps its place.
func (m *metrics) waiting(rows []Row) {
	for _, r := range rows {
		ns := r.CreatedAt.UnixNano()
		if cur := m.oldest.Load(); cur == 0 || ns < cur {
			m.oldest.Store(ns)
		}
	}
}

// caughtUp notes that every row read was published.
func (m *metrics) caughtUp() { m.oldest.Store(0) }

func (m *metrics) lagSeconds() float64 {
	ns := m.oldest.Load()
	if ns == 0 {
		return 0
	}
	return max(0, time.Since(time.Unix(0, ns)).Seconds())
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
	}
	m.lag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "exchange_outbox_lag_seconds", ConstLabels: labels,
		Help: "Age of the oldest outbox row read and not yet published (grows while publishing fails); 0 when caught up.",
	}, m.lagSeconds)
	for _, c := range []prometheus.Collector{m.published, m.dead, m.failures, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering outbox metrics: %w", err)
		}
	}
	return m, nil
}
