package timeliness

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the timeliness metrics; labels hold ids and kinds only.
//
//	exchange_dataset_silent{dataset}                           1 while the dataset has had no accepted record for its expected_every
//	exchange_dataset_last_record_timestamp_seconds{dataset}    decision time of its last accepted record (every process of the group)
//	exchange_agreement_silent{agreement}                       1 while the active agreement has had no delivery for its own expected_every
//	exchange_notices_total{kind}                               notices stored and produced to notices.<agency>
//	exchange_notices_failed_total                              notices whose produce failed (they stay readable at /api/v1/notices)
//	exchange_timeliness_flush_failures_total                   flushes of the timeliness aggregates that failed (retried)
type Metrics struct {
	silent          *prometheus.GaugeVec
	lastRecord      *prometheus.GaugeVec
	agreementSilent *prometheus.GaugeVec
	notices         *prometheus.CounterVec
	noticeFailures  prometheus.Counter
	flushFailures   prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exchange_dataset_silent", Help: "1 while the dataset has had no accepted record for its contract's expected_every.",
		}, []string{"dataset"}),
		lastRecord: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exchange_dataset_last_record_timestamp_seconds", Help: "Decision time of the dataset's last accepted record, over every process of the group.",
		}, []string{"dataset"}),
		agreementSilent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exchange_agreement_silent", Help: "1 while the active agreement has had no delivery for its own freshness expected_every.",
		}, []string{"agreement"}),
		notices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_notices_total", Help: "Notices sent to agencies (notices.<agency>), by kind.",
		}, []string{"kind"}),
		noticeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_notices_failed_total", Help: "Notices whose produce to notices.<agency> failed; they stay readable at /api/v1/notices.",
		}),
		flushFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_timeliness_flush_failures_total", Help: "Flushes of the SLA aggregates and last record times to the store that failed and are retried.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.silent, m.lastRecord, m.agreementSilent, m.notices, m.noticeFailures, m.flushFailures)
	}
	return m
}
