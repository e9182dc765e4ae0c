package webhook

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook connectors' metrics, shared by every endpoint of
// a process (labelled by agreement); the names are listed in the package
// doc.
type Metrics struct {
	deliveries *prometheus.CounterVec // agreement, code
	retries    *prometheus.CounterVec // agreement
	lag        *prometheus.GaugeVec   // agreement, partition
	failing    *prometheus.GaugeVec   // agreement
	authorized *prometheus.GaugeVec   // agreement
}

// NewMetrics registers the metrics on reg (nil: a private registry, for
// tests and tools that expose none).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exchange_webhook_deliveries_total",
			Help: "POST attempts by agreement and outcome: the HTTP status code, or \"error\" (connection failed, timeout)."}, []string{"agreement", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exchange_webhook_retries_total",
			Help: "Attempts that repeated a delivery after a failure (the delivery is held, never skipped)."}, []string{"agreement"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "exchange_webhook_lag",
			Help: "Deliveries of the partition not yet acknowledged by the endpoint (high-water mark minus the next offset to post)."}, []string{"agreement", "partition"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "exchange_webhook_failing",
			Help: "1 while a delivery of the agreement has been failing for longer than alert_after (the partition is held)."}, []string{"agreement"}),
		authorized: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "exchange_webhook_authorized",
			Help: "1 while the consumer may read the delivery topic; 0 once the brokers deny it (agreement suspended or revoked): nothing is posted or committed."}, []string{"agreement"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.deliveries, m.retries, m.lag, m.failing, m.authorized} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("webhook metrics: already registered on this registry (share one Metrics): %w", err)
			}
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return m, nil
}

// failures tracks, per partition of one endpoint, since when its current
// delivery fails, and sets exchange_webhook_failing from it.
type failures struct {
	agreement  string
	alertAfter time.Duration
	gauge      *prometheus.GaugeVec
	mu         sync.Mutex
	since      map[int]time.Time
}

func newFailures(m *Metrics, agreement string, alertAfter time.Duration) *failures {
	f := &failures{agreement: agreement, alertAfter: alertAfter, gauge: m.failing, since: map[int]time.Time{}}
	f.gauge.WithLabelValues(agreement).Set(0)
	return f
}

// failed records a failed attempt at partition's delivery at now and
// returns since when it fails.
func (f *failures) failed(partition int, now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.since[partition]
	if !ok {
		s = now
		f.since[partition] = s
	}
	f.update(now)
	return s
}

// ok records partition's delivery acknowledged (or the partition gone).
func (f *failures) ok(partition int, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.since, partition)
	f.update(now)
}

func (f *failures) update(now time.Time) {
	v := 0.0
	for _, s := range f.since {
		if now.Sub(s) >= f.alertAfter {
			v = 1
		}
	}
	f.gauge.WithLabelValues(f.agreement).Set(v)
}

func (m *Metrics) setLag(agreement string, partition int, lag int64) {
	m.lag.WithLabelValues(agreement, strconv.Itoa(partition)).Set(float64(max(lag, 0)))
}
