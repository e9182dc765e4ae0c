package exchange

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// Metrics are the worker's Prometheus metrics. Every name is listed here and
// nowhere else; labels hold ids and reason codes only, never record content.
//
//	exchange_records_in_total{dataset}                        records fetched from ingress.<dataset>
//	exchange_records_delivered_total{dataset,agreement}       copies written to deliver.<consumer>.<agreement>
//	exchange_records_skipped_total{dataset,agreement,reason}  agreements that did not receive a record (policy Skip* reason)
//	exchange_records_quarantined_total{dataset,reason}        records written to quarantine.<dataset>, once per reason code
//	exchange_records_warned_total{dataset,reason}             warn-level rule failures (delivered anyway)
//	exchange_freshness_lag_seconds{dataset}                   histogram: decision time minus event time
//	exchange_batch_duration_seconds                           histogram: start of a batch's decisions to its commit
//	exchange_batch_records                                    histogram: records per batch
//	exchange_produce_retries_total                            produce attempts that failed (whole or partial) and were retried
//	exchange_ledger_paused                                    workers of the process paused: the audit index is past max_index_lag (fail closed)
//	exchange_commit_batches                                   histogram: batches per offset commit (group commit)
//	exchange_commits_total{result}                            offset commits: ok, error, skipped_rebalance
//	exchange_group_generations_total                          consumer group generations joined (rebalances)
//	exchange_consumer_lag                                     records behind the high-water marks of the assigned partitions (all workers of the process), as of each one's last processed record
//	exchange_reader_restarts_total                            readers recreated (plan's dataset set changed, or a stall)
//	exchange_reader_stalls_total                              partitions found stalled by the watchdog (records waiting, none fetched for StallTimeout)
//	exchange_partitions_halted{topic}                         partitions halted: a record reuses a source position audited for another record
type Metrics struct {
	in           *prometheus.CounterVec
	delivered    *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	quarantined  *prometheus.CounterVec
	warned       *prometheus.CounterVec
	freshness    *prometheus.HistogramVec
	batchDur     prometheus.Histogram
	batchSize    prometheus.Histogram
	commitGroupH prometheus.Histogram
	produceRetr  prometheus.Counter
	paused       prometheus.Gauge
	commits      *prometheus.CounterVec
	generations  prometheus.Counter
	lag          prometheus.Gauge
	restarts     prometheus.Counter
	stalls       prometheus.Counter
	halted       *prometheus.GaugeVec

	// Workers of one process share a Metrics: the lag gauge is the sum of
	// each reader's (and the paused gauge counts paused workers).
	mu      sync.Mutex
	lags    map[any]int64
	npaused int
}

// setLag records the consumer lag of owner (one reader session).
func (m *Metrics) setLag(owner any, v int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lags == nil {
		m.lags = map[any]int64{}
	}
	m.lags[owner] = v
	m.publishLag()
}

// dropLag forgets a closed reader's lag.
func (m *Metrics) dropLag(owner any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.lags, owner)
	m.publishLag()
}

func (m *Metrics) publishLag() {
	var sum int64
	for _, v := range m.lags {
		sum += v
	}
	m.lag.Set(float64(sum))
}

// setPaused counts a worker entering (true) or leaving (false) the paused state.
func (m *Metrics) setPaused(p bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p {
		m.npaused++
	} else if m.npaused > 0 {
		m.npaused--
	}
	m.paused.Set(float64(m.npaused))
}

// NewMetrics creates the worker metrics and registers them on reg (when not
// nil). Registering the same names twice on one registry panics, as
// prometheus.MustRegister does: create one Metrics per registry and share it
// between workers of one process.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_records_in_total", Help: "Records fetched from ingress topics.",
		}, []string{"dataset"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_records_delivered_total", Help: "Record copies written to delivery topics.",
		}, []string{"dataset", "agreement"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_records_skipped_total", Help: "Agreements that did not receive a record, by skip reason.",
		}, []string{"dataset", "agreement", "reason"}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_records_quarantined_total", Help: "Records quarantined, counted once per reason code.",
		}, []string{"dataset", "reason"}),
		warned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_records_warned_total", Help: "Warn-level rule failures of delivered records.",
		}, []string{"dataset", "reason"}),
		freshness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "exchange_freshness_lag_seconds",
			Help:    "Decision time minus the record's event time.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86400},
		}, []string{"dataset"}),
		batchDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "exchange_batch_duration_seconds",
			Help:    "From the start of a batch's decisions to its offset commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "exchange_batch_records",
			Help:    "Records per processed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		commitGroupH: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "exchange_commit_batches",
			Help:    "Batches per offset commit (group commit: more when the commit is the slowest stage).",
			Buckets: prometheus.LinearBuckets(1, 1, commitGroup),
		}),
		produceRetr: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_produce_retries_total", Help: "Produce attempts that failed wholly or partly and were retried.",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_ledger_paused", Help: "Workers paused because the audit index is more than max_index_lag behind the audit topic (fail closed).",
		}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "exchange_commits_total", Help: "Offset commits by result (ok, error, skipped_rebalance).",
		}, []string{"result"}),
		generations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_group_generations_total", Help: "Consumer group generations joined.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "exchange_consumer_lag", Help: "Records behind the end of the assigned ingress partitions (reader stats).",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_reader_restarts_total", Help: "Readers recreated (plan dataset change or stall).",
		}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "exchange_reader_stalls_total", Help: "Partitions found stalled by the watchdog.",
		}),
		halted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "exchange_partitions_halted",
			Help: "Ingress partitions halted because a record reuses a source position the ledger audited for another record (topic deleted and created again).",
		}, []string{"topic"}),
	}
	if reg != nil {
		reg.MustRegister(m.in, m.delivered, m.skipped, m.quarantined, m.warned, m.freshness,
			m.batchDur, m.batchSize, m.commitGroupH, m.produceRetr, m.paused, m.commits,
			m.generations, m.lag, m.restarts, m.stalls, m.halted)
	}
	return m
}

// observe updates the per-record metrics of an audited batch and tells
// the activity observer, if any, the same counts and the batch's
// timeliness.
func (w *Worker) observe(p *prepared) {
	m := w.metrics
	results, now := p.results, p.now
	c := countBatch(results, w.activity != nil)
	for k, n := range c.In {
		m.in.WithLabelValues(k).Add(float64(n))
	}
	for k, n := range c.Delivered {
		m.delivered.WithLabelValues(k.Dataset, k.Label).Add(float64(n))
	}
	for k, n := range c.Skipped {
		m.skipped.WithLabelValues(k.Dataset, k.Agreement, k.Reason).Add(float64(n))
	}
	for k, n := range c.Quarantined {
		m.quarantined.WithLabelValues(k.Dataset, k.Label).Add(float64(n))
	}
	for k, n := range c.Warned {
		m.warned.WithLabelValues(k.Dataset, k.Label).Add(float64(n))
	}
	w.observeFreshness(results, now)
	if w.activity != nil {
		c.At, c.Produced = now, p.produced
		c.Timeliness = batchTimeliness(p.batch, results, p.produced)
		w.activity.ObserveActivity(c)
	}
}

// batchTimeliness gathers per dataset what the batch tells the SLA
// aggregates and notices (built only when an activity observer listens).
func batchTimeliness(batch []fetched, results []recordResult, produced time.Time) map[string]*DatasetTimeliness {
	out := map[string]*DatasetTimeliness{}
	for i := range results {
		e := &results[i].entry
		dt := out[e.Dataset]
		if dt == nil {
			dt = &DatasetTimeliness{Agreements: map[string]*AgreementTimeliness{}}
			out[e.Dataset] = dt
		}
		dt.Records++
		if slices.Contains(e.Reasons, policy.ReasonFreshnessStale) {
			dt.Stale++
		}
		if e.Decision == ledger.Quarantined {
			dt.Quarantined++
			dt.Quarantines = append(dt.Quarantines, QuarantinedRecord{Topic: e.Topic, Partition: e.Partition,
				Offset: e.Offset, SchemaID: e.SchemaID, Reasons: results[i].reasons})
			continue
		}
		lag := max(produced.Sub(batch[i].msg.Time), 0)
		for _, d := range e.Deliveries {
			at := dt.agreement(d.AgreementID)
			at.Delivered++
			at.Lags = append(at.Lags, lag)
		}
		for _, sk := range e.Skips {
			if sk.Reason == policy.SkipStale {
				dt.agreement(sk.AgreementID).Stale++
			}
		}
	}
	return out
}

func (dt *DatasetTimeliness) agreement(id string) *AgreementTimeliness {
	at := dt.Agreements[id]
	if at == nil {
		at = &AgreementTimeliness{}
		dt.Agreements[id] = at
	}
	return at
}

// observeFreshness observes each record's lag behind its event time, one
// histogram lookup per dataset.
func (w *Worker) observeFreshness(results []recordResult, now time.Time) {
	fresh := map[string][]float64{}
	for i := range results {
		e := &results[i].entry
		if !e.EventTime.IsZero() {
			fresh[e.Dataset] = append(fresh[e.Dataset], now.Sub(e.EventTime).Seconds())
		}
	}
	for ds, vs := range fresh {
		h := w.metrics.freshness.WithLabelValues(ds)
		for _, v := range vs {
			h.Observe(v)
		}
	}
}

// countBatch aggregates a batch's outcomes so that label lookups happen
// once per label set, not once per record; with details, it keeps the
// detail of each quarantine reason's first record in the batch.
func countBatch(results []recordResult, details bool) BatchActivity {
	c := BatchActivity{
		In: map[string]int{}, Delivered: map[DatasetLabel]int{}, Skipped: map[SkipLabel]int{},
		Quarantined: map[DatasetLabel]int{}, Warned: map[DatasetLabel]int{},
	}
	if details {
		c.Details = map[DatasetLabel]string{}
	}
	for i := range results {
		e := &results[i].entry
		c.In[e.Dataset]++
		for _, d := range e.Deliveries {
			c.Delivered[DatasetLabel{e.Dataset, d.AgreementID}]++
		}
		for _, sk := range e.Skips {
			c.Skipped[SkipLabel{e.Dataset, sk.AgreementID, sk.Reason}]++
		}
		counts := c.Warned
		if e.Decision == ledger.Quarantined {
			counts = c.Quarantined
		}
		for _, r := range e.Reasons {
			counts[DatasetLabel{e.Dataset, r}]++
		}
		if details {
			for _, r := range results[i].reasons {
				k := DatasetLabel{e.Dataset, r.Code}
				if _, ok := c.Details[k]; !ok {
					c.Details[k] = r.Detail
				}
			}
		}
	}
	return c
}
