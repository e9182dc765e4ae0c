package httpingest

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of HTTP ingest (the names are listed in doc.go).
type metrics struct {
	requests *prometheus.CounterVec
	records  prometheus.Counter
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "exchange_ingest_requests_total",
			Help: "HTTP ingest requests by answer status code."}, []string{"code"}),
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "exchange_ingest_records_total",
			Help: "Records HTTP ingest produced and Kafka acknowledged (acks=all), answered 200."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "exchange_ingest_request_duration_seconds",
			Help: "HTTP ingest requests from the handler's start to its answer.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.records, m.duration)
	}
	return m
}

func (m *metrics) answered(code int) { m.requests.WithLabelValues(strconv.Itoa(code)).Inc() }
