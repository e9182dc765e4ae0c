package exchange

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// mechanics is one test's fake world: a dataset with two agreements.
type mechanics struct {
	k        *testKafka
	suffix   string
	dataset  string
	ingress  string
	topicA   string
	topicB   string
	quar     string
	group    string
	plan     *policy.Plan
	plans    *policy.Holder
	ledger   *testLedger
	registry *prometheus.Registry

	agreements []testAgreement
}

func newMechanics(t *testing.T, partitions int) *mechanics {
	t.Helper()
	k := startKafka(t)
	m := mechanicsWorld(t, k, suffix())
	k.ensure(t, partitions, Topics(m.plan)...)
	k.ensureAudit(t, m.group, partitions)
	m.ledger.index(t, k.brokers, m.group)
	return m
}

// mechanicsWorld builds the world of suffix s; a helper process given the
// same suffix builds the same one.
func mechanicsWorld(t testing.TB, k *testKafka, s string) *mechanics {
	ds := "test" + s + ".people"
	m := &mechanics{
		k: k, suffix: s, dataset: ds, ingress: names.Ingress(ds), group: "exchange-test-" + s,
		topicA: names.Deliver("alpha", "agr-a-"+s), topicB: names.Deliver("beta", "agr-b-"+s),
		quar: names.Quarantine(ds), ledger: newTestLedger(t), registry: prometheus.NewRegistry(),
	}
	m.agreements = []testAgreement{
		{id: "agr-a-" + s, consumer: "alpha", dataset: ds, fields: []string{"id", "n"}},
		{id: "agr-b-" + s, consumer: "beta", dataset: ds, fields: []string{"id", "region"}},
	}
	m.plan = compileWorld(t, "v1", []string{ds}, m.agreements)
	m.plans = &policy.Holder{}
	m.plans.Store(m.plan)
	return m
}

func (m *mechanics) worker(t *testing.T, lg Ledger, mod func(*WorkerConfig), opts ...Option) *Worker {
	t.Helper()
	cfg := WorkerConfig{Kafka: kafkaAt(m.k.brokers, m.group), Tuning: Tuning{Linger: 2 * time.Millisecond}}
	cfg.Kafka.Partitions = 4
	m.k.groupTimings(&cfg)
	if mod != nil {
		mod(&cfg)
	}
	if lg == nil {
		lg = m.ledger
	}
	opts = append([]Option{WithLogger(testLogger(t))}, opts...)
	w, err := NewWorker(cfg, m.plans, lg, opts...)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	return w
}

func (m *mechanics) records(n, from int) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range out {
		n := from + i
		out[i] = kafka.Message{Topic: m.ingress, Key: []byte("k" + strconv.Itoa(n%17)),
			Value: personValue(personSchemaID(0), person{ID: fmt.Sprintf("rec-%d", n), N: int64(n), Region: "north"})}
	}
	return out
}

// TestWorkerMechanics: every record delivered to both agreements in key
// order, with stable ids and exchange headers; a bad one quarantined; one
// ledger entry per record; offsets committed to the end; metrics counted.
func TestWorkerMechanics(t *testing.T) {
	m := newMechanics(t, 3)
	metrics := NewMetrics(m.registry)
	w := m.worker(t, nil, nil, WithMetrics(metrics))
	stop := runWorker(t, w)

	recs := m.records(200, 0)
	bad := personValue(personSchemaID(0), person{ID: "bad", N: -1, Region: "north"})
	recs = append(recs, kafka.Message{Topic: m.ingress, Key: []byte("bad"), Value: bad,
		Headers: []kafka.Header{{Key: "origin", Value: []byte("unit")}, {Key: "Exchange-Agreement", Value: []byte("forged")}}})
	m.k.publish(t, recs...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	audited := m.ledger.byPosition(t)
	for i, topic := range []string{m.topicA, m.topicB} {
		got := m.k.readAll(t, topic)
		if len(got) != 200 {
			t.Fatalf("%s: %d records, want 200", topic, len(got))
		}
		lastPerKey := map[string]int{}
		for _, d := range got {
			v := decodeFor(t, m.plan, m.dataset, m.agreements[i].id, d.Value)
			if len(v) != 2 {
				t.Fatalf("%s delivered fields %v, want 2", topic, v)
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(v["id"].(string), "rec-"))
			if prev, ok := lastPerKey[string(d.Key)]; ok && n < prev {
				t.Errorf("%s: key %s out of order: %d after %d", topic, d.Key, n, prev)
			}
			lastPerKey[string(d.Key)] = n
			src, _ := header(d, HeaderSource)
			parts := strings.Split(src, "/")
			if len(parts) != 3 || parts[0] != m.ingress {
				t.Fatalf("bad %s %q", HeaderSource, src)
			}
			p, _ := strconv.Atoi(parts[1])
			off, _ := strconv.ParseInt(parts[2], 10, 64)
			agr, _ := header(d, HeaderAgreement)
			id, _ := header(d, HeaderDeliveryID)
			if want := DeliveryID(agr, m.ingress, p, off); id != want || len(id) != 32 {
				t.Errorf("delivery id %q, want %q", id, want)
			}
			if tp, _ := header(d, HeaderTraceparent); len(tp) != 55 {
				t.Errorf("traceparent %q", tp)
			}
			if _, ok := header(d, HeaderEventTime); !ok {
				t.Errorf("no %s", HeaderEventTime)
			}
			e, ok := audited[entryKey(m.ingress, int32(p), off)]
			if !ok || e.Decision != ledger.Delivered || len(e.Deliveries) != 2 {
				t.Errorf("ledger entry for %s: %+v", src, e)
			}
		}
	}
	q := m.k.readAll(t, m.quar)
	if len(q) != 1 {
		t.Fatalf("quarantine: %d records, want 1", len(q))
	}
	if r, _ := header(q[0], HeaderReason); r != "quality:n_nonneg" {
		t.Errorf("reason %q", r)
	}
	if v, _ := header(q[0], "origin"); v != "unit" {
		t.Errorf("original header lost: %+v", q[0].Headers)
	}
	for _, h := range q[0].Headers {
		if strings.EqualFold(h.Key, HeaderAgreement) {
			t.Errorf("forged header kept: %s=%s", h.Key, h.Value)
		}
	}
	if string(q[0].Value) != string(bad) {
		t.Errorf("quarantine value altered")
	}
	if n := m.ledger.len(t); n != 201 {
		t.Errorf("ledger has %d entries, want 201", n)
	}
	if got := counterValue(t, metrics.in.WithLabelValues(m.dataset)); got != 201 {
		t.Errorf("records in = %v, want 201", got)
	}
	if got := counterValue(t, metrics.quarantined.WithLabelValues(m.dataset, "quality:n_nonneg")); got != 1 {
		t.Errorf("quarantined = %v, want 1", got)
	}
	if got := counterValue(t, metrics.delivered.WithLabelValues(m.dataset, m.agreements[0].id)); got != 200 {
		t.Errorf("delivered = %v, want 200", got)
	}
	var lag dto.Metric
	if err := metrics.lag.Write(&lag); err != nil || lag.GetGauge().GetValue() != 0 {
		t.Errorf("consumer lag = %v after catching up, want 0", lag.GetGauge().GetValue())
	}
	var bs dto.Metric
	if err := metrics.batchSize.Write(&bs); err != nil || bs.GetHistogram().GetSampleSum() != 201 {
		t.Errorf("batch records sum = %v, want 201", bs.GetHistogram().GetSampleSum())
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("reading metric: %v", err)
	}
	return m.GetCounter().GetValue()
}

// TestWorkerRejects: records that never reach the plan are quarantined with
// the right reason and audited: garbage bytes, a null value, an oversized
// value (no value copied), too many headers (headers dropped).
func TestWorkerRejects(t *testing.T) {
	m := newMechanics(t, 1)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.MaxRecordBytes = 1000; c.MaxHeaders = 8 })
	stop := runWorker(t, w)

	many := make([]kafka.Header, 9)
	for i := range many {
		many[i] = kafka.Header{Key: fmt.Sprintf("h%d", i), Value: []byte("v")}
	}
	m.k.publish(t,
		kafka.Message{Topic: m.ingress, Key: []byte("a"), Value: []byte("garbage, not a wire frame")},
		kafka.Message{Topic: m.ingress, Key: []byte("b"), Value: nil},
		kafka.Message{Topic: m.ingress, Key: []byte("c"), Value: framed(7, strings.Repeat("x", 2000))},
		kafka.Message{Topic: m.ingress, Key: []byte("d"), Value: framed(7, "ok"), Headers: many},
		kafka.Message{Topic: m.ingress, Key: []byte("e"), Value: []byte{1, 0, 0, 0, 7, 'x'}},
		kafka.Message{Topic: m.ingress, Key: []byte("f"), Value: framed(7, strings.Repeat("y", 2000)), Headers: many},
		kafka.Message{Topic: m.ingress, Key: []byte(strings.Repeat("g", 5000)), Value: framed(7, "ok")},
	)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	q := m.k.readAll(t, m.quar)
	want := []struct {
		key, reason string
		valueLen    int
		headers     int
	}{
		{"a", "decode:malformed", 25, 3},
		{"b", "decode:tombstone", 0, 3},
		{"c", "size:too_large", 0, 3},
		{"d", "headers:invalid", 7, 3},
		{"e", "decode:malformed", 6, 3},
		{"f", "headers:invalid,size:too_large", 0, 3},
		{"", "size:too_large", 0, 3}, // a 5000-byte key is not copied
	}
	if len(q) != len(want) {
		t.Fatalf("quarantine has %d records, want %d", len(q), len(want))
	}
	audited := m.ledger.byPosition(t)
	for i, wnt := range want {
		got := q[i]
		r, _ := header(got, HeaderReason)
		if string(got.Key) != wnt.key || r != wnt.reason || len(got.Value) != wnt.valueLen || len(got.Headers) != wnt.headers {
			t.Errorf("quarantine[%d] = key %s reason %s value %d bytes %d headers, want %+v", i, got.Key, r, len(got.Value), len(got.Headers), wnt)
		}
		if d, _ := header(got, HeaderDetail); d == "" {
			t.Errorf("quarantine[%d]: empty %s", i, HeaderDetail)
		}
		e, ok := audited[entryKey(m.ingress, 0, int64(i))]
		if !ok || e.Decision != ledger.Quarantined || strings.Join(e.Reasons, ",") != wnt.reason {
			t.Errorf("ledger entry %d: %+v", i, e)
		}
	}
	for _, topic := range []string{m.topicA, m.topicB} {
		if got := m.k.readAll(t, topic); len(got) != 0 {
			t.Errorf("%s received %d records", topic, len(got))
		}
	}
}

// TestWorkerPausesPastIndexLag: while the SQL ledger's index is more than
// MaxIndexLag behind the audit topic, nothing is produced or committed and
// the worker reports itself paused; once the index is back within the
// bound, everything is delivered, committed and indexed.
func TestWorkerPausesPastIndexLag(t *testing.T) {
	m := newMechanics(t, 2)
	lag := &testLag{}
	lag.set(time.Hour)
	metrics := NewMetrics(nil)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.MaxIndexLag = time.Minute }, WithMetrics(metrics), WithIndexLag(lag))
	stop := runWorker(t, w)
	m.k.publish(t, m.records(50, 0)...)

	waitFor(t, 30*time.Second, "the worker to check the index lag three times", func() bool { return lag.calls.Load() >= 3 })
	if g := gaugeValue(t, metrics.paused); g != 1 {
		t.Errorf("exchange_ledger_paused = %v past the index lag bound, want 1", g)
	}
	if err := w.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "max_index_lag") {
		t.Errorf("Ready past the bound = %v, want paused naming max_index_lag", err)
	}
	com, err := m.k.committed(t.Context(), m.group, m.ingress)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range com {
		if off > 0 {
			t.Errorf("partition %d committed to %d while paused", p, off)
		}
	}
	for _, topic := range []string{m.topicA, m.topicB} {
		if got := m.k.readAll(t, topic); len(got) != 0 {
			t.Errorf("%s received %d records while paused", topic, len(got))
		}
	}
	lag.set(0)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := m.ledger.len(t); n != 50 {
		t.Errorf("ledger has %d entries, want 50", n)
	}
	if g := gaugeValue(t, metrics.paused); g != 0 {
		t.Errorf("exchange_ledger_paused = %v after catching up, want 0", g)
	}
}

// testLag is an index lag the test sets (the worker's IndexLag input).
type testLag struct {
	behind atomic.Int64
	calls  atomic.Int64
	// lagFrom: the calls before this one (1-based) see no lag; 0: all see it.
	lagFrom atomic.Int64
}

func (l *testLag) set(d time.Duration) { l.behind.Store(int64(d)) }

func (l *testLag) Behind() (time.Duration, bool) {
	if n := l.calls.Add(1); n < l.lagFrom.Load() {
		return 0, true
	}
	return time.Duration(l.behind.Load()), true
}

// TestTwoWorkersOneGroup: two workers share the partitions; both work, every
// record is delivered, and the first one noticed the rebalance.
func TestTwoWorkersOneGroup(t *testing.T) {
	m := newMechanics(t, 4)
	m1, m2 := NewMetrics(nil), NewMetrics(nil)
	// Records each worker committed (batch sizes are observed after the commit).
	done1 := func() uint64 { return histogramCount(t, m1.batchSize) }
	done2 := func() uint64 { return histogramCount(t, m2.batchSize) }
	w1 := m.worker(t, nil, nil, WithMetrics(m1))
	stop1 := runWorker(t, w1)
	waitFor(t, 30*time.Second, "first worker joined", func() bool { return w1.Ready(t.Context()) == nil })
	w2 := m.worker(t, nil, nil, WithMetrics(m2))
	stop2 := runWorker(t, w2)
	waitFor(t, 30*time.Second, "second worker joined", func() bool { return w2.Ready(t.Context()) == nil })

	total := 0
	deadline := time.Now().Add(60 * time.Second)
	for done1() == 0 || done2() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not both workers worked: %d and %d batches", done1(), done2())
		}
		m.k.publish(t, m.records(200, total)...)
		total += 200
		m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	}
	if err := stop1(); err != nil {
		t.Fatalf("Run 1: %v", err)
	}
	if err := stop2(); err != nil {
		t.Fatalf("Run 2: %v", err)
	}
	if g := counterValue(t, m1.generations); g < 2 {
		t.Errorf("first worker saw %v generations, want >= 2 (rebalance undetected)", g)
	}
	for _, topic := range []string{m.topicA, m.topicB} {
		seen := map[string]bool{}
		for _, d := range m.k.readAll(t, topic) {
			src, _ := header(d, HeaderSource)
			seen[src] = true
		}
		if len(seen) != total {
			t.Errorf("%s: %d distinct source records delivered, want %d", topic, len(seen), total)
		}
	}
	if n := m.ledger.len(t); n != total {
		t.Errorf("ledger has %d entries, want %d", n, total)
	}
	t.Logf("records %d: worker 1 committed %d batches, worker 2 %d", total, done1(), done2())
}

// TestPlanReloadNewDataset: a plan with a new dataset makes the worker
// create its topics and consume its ingress topic without a restart.
func TestPlanReloadNewDataset(t *testing.T) {
	m := newMechanics(t, 2)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.PlanCheckInterval = 50 * time.Millisecond })
	stop := runWorker(t, w)
	m.k.publish(t, m.records(10, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)

	ds2 := m.dataset + "2"
	agr := "agr-new-" + suffix()
	p2 := compileWorld(t, "v2", []string{m.dataset, ds2},
		append(append([]testAgreement{}, m.agreements...), testAgreement{id: agr, consumer: "gamma", dataset: ds2, fields: []string{"id"}}))
	// The publisher needs the ingress topic; the worker must create the rest.
	m.k.ensure(t, 2, names.Ingress(ds2))
	m.plans.Store(p2)
	m.k.publish(t, kafka.Message{Topic: names.Ingress(ds2), Key: []byte("n"), Value: personValue(personSchemaID(1), person{ID: "new", N: 1, Region: "east"})})
	m.k.waitCaughtUp(t, m.group, 60*time.Second, names.Ingress(ds2), m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := m.k.readAll(t, names.Deliver("gamma", agr))
	if len(got) != 1 {
		t.Fatalf("new agreement received %d records", len(got))
	}
	if v := decodeFor(t, p2, ds2, agr, got[0].Value); v["id"] != "new" || len(v) != 1 {
		t.Errorf("delivered %v", v)
	}
	src, _ := header(got[0], HeaderSource)
	var p int
	fmt.Sscanf(strings.TrimPrefix(src, names.Ingress(ds2)+"/"), "%d/", &p)
	e, ok := m.ledger.byPosition(t)[entryKey(names.Ingress(ds2), int32(p), 0)]
	if !ok || e.PlanVersion != "v2" {
		t.Errorf("ledger entry %+v", e)
	}
}

// TestRevokedAgreementAfterReload: once a plan revoking an agreement is
// loaded, that agreement receives nothing more, and the ledger records the
// skip; the other agreement keeps receiving.
func TestRevokedAgreementAfterReload(t *testing.T) {
	m := newMechanics(t, 2)
	w := m.worker(t, nil, nil)
	stop := runWorker(t, w)
	m.k.publish(t, m.records(20, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)

	revoked := append([]testAgreement{}, m.agreements...)
	revoked[0].status = agreements.StatusRevoked
	m.plans.Store(compileWorld(t, "v2-revoked", []string{m.dataset}, revoked))
	m.k.publish(t, m.records(20, 20)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(m.k.readAll(t, m.topicA)); n != 20 {
		t.Errorf("revoked agreement received %d records, want the 20 from before the reload", n)
	}
	if n := len(m.k.readAll(t, m.topicB)); n != 40 {
		t.Errorf("other agreement received %d records, want 40", n)
	}
	skipped := 0
	for _, e := range m.ledger.all(t) {
		if e.PlanVersion != "v2-revoked" {
			continue
		}
		if len(e.Skips) == 1 && e.Skips[0].AgreementID == m.agreements[0].id && e.Skips[0].Reason == policy.SkipRevoked {
			skipped++
		}
	}
	if skipped != 20 {
		t.Errorf("%d ledger entries record the revocation skip, want 20", skipped)
	}
}

// TestProduceFailureBlocksCommit: while a delivery topic cannot be written
// (here: it does not exist and the worker may not create topics), nothing
// is committed; once it exists, everything is delivered.
func TestProduceFailureBlocksCommit(t *testing.T) {
	k := startKafka(t)
	m := mechanicsWorld(t, k, suffix())
	k.ensure(t, 2, m.ingress, m.quar, m.topicB) // not topicA
	k.ensureAudit(t, m.group, 2)
	m.ledger.index(t, k.brokers, m.group)
	metrics := NewMetrics(nil)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.SkipTopicCreation = true; c.WriteTimeout = time.Second }, WithMetrics(metrics))
	stop := runWorker(t, w)
	m.k.publish(t, m.records(30, 0)...)

	waitFor(t, 60*time.Second, "produce retries", func() bool { return counterValue(t, metrics.produceRetr) >= 2 })
	com, err := k.committed(t.Context(), m.group, m.ingress)
	if err != nil {
		t.Fatal(err)
	}
	for p, off := range com {
		if off > 0 {
			t.Errorf("partition %d committed to %d while a delivery topic was unwritable", p, off)
		}
	}
	if n := m.ledger.len(t); n != 0 {
		t.Errorf("%d ledger entries written before the deliveries were acknowledged", n)
	}
	k.ensure(t, 2, m.topicA)
	k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(k.readAll(t, m.topicA)); n != 30 {
		t.Errorf("%s received %d records, want 30", m.topicA, n)
	}
	if n := m.ledger.len(t); n != 30 {
		t.Errorf("ledger has %d entries, want 30", n)
	}
}

// TestShutdownAbandonsStuckBatch: a batch stuck in flight at shutdown is
// abandoned after ShutdownTimeout, uncommitted, and Run returns.
func TestShutdownAbandonsStuckBatch(t *testing.T) {
	m := newMechanics(t, 1)
	// The index never catches up: the batch stays held before its produce.
	lag := &testLag{}
	lag.set(time.Hour)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.ShutdownTimeout = 500 * time.Millisecond; c.MaxIndexLag = time.Minute }, WithIndexLag(lag))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.k.publish(t, m.records(10, 0)...)
	waitFor(t, 30*time.Second, "a batch held in flight", func() bool { return lag.calls.Load() > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	com, err := m.k.committed(t.Context(), m.group, m.ingress)
	if err != nil {
		t.Fatal(err)
	}
	if com[0] > 0 {
		t.Errorf("committed %d past an abandoned batch", com[0])
	}
}

// TestShutdownCommitsFinishedBatch: cancelling while a batch is in flight
// lets it finish and makes the final commit.
func TestShutdownCommitsFinishedBatch(t *testing.T) {
	m := newMechanics(t, 1)
	// The batch is decided (the lag is checked once before), then held
	// before its produce by an index lag past the bound.
	lag := &testLag{}
	lag.lagFrom.Store(2)
	lag.set(time.Hour)
	w := m.worker(t, nil, func(c *WorkerConfig) { c.MaxIndexLag = time.Minute }, WithIndexLag(lag))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	m.k.publish(t, m.records(10, 0)...)
	waitFor(t, 30*time.Second, "a decided batch held before its produce", func() bool { return lag.calls.Load() > 2 })
	cancel() // shutdown requested while the batch is in flight
	lag.set(0)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	com, err := m.k.committed(t.Context(), m.group, m.ingress)
	if err != nil {
		t.Fatal(err)
	}
	audited := int64(m.ledger.len(t))
	if audited == 0 || com[0] != audited {
		t.Errorf("committed offset %d, audited %d: the finished batch must be committed exactly", com[0], audited)
	}
}

// TestStallWatchdog: a partition with records waiting that delivers nothing
// makes the worker recreate its reader; the records then arrive.
func TestStallWatchdog(t *testing.T) {
	m := newMechanics(t, 1)
	metrics := NewMetrics(nil)
	w := m.worker(t, nil, func(c *WorkerConfig) {
		c.StallTimeout = 300 * time.Millisecond
		c.PlanCheckInterval = 50 * time.Millisecond
	}, WithMetrics(metrics))
	stop := runWorker(t, w)
	m.k.publish(t, m.records(5, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if got := counterValue(t, metrics.stalls); got != 0 {
		t.Fatalf("stalls = %v on a healthy partition", got)
	}
	// Fake a stuck partition: the last record seen said more were waiting.
	waitFor(t, 30*time.Second, "a session", func() bool { return w.current.Load() != nil })
	s := w.current.Load()
	s.lagMu.Lock()
	for tp, l := range s.lag {
		l.lag, l.seen = 3, time.Now().Add(-time.Hour)
		s.lag[tp] = l
	}
	s.lagMu.Unlock()
	waitFor(t, 30*time.Second, "the watchdog", func() bool { return counterValue(t, metrics.stalls) >= 1 })
	waitFor(t, 30*time.Second, "a new reader", func() bool { return counterValue(t, metrics.restarts) >= 1 })
	m.k.publish(t, m.records(5, 5)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := m.ledger.len(t); n != 10 {
		t.Errorf("ledger has %d entries, want 10", n)
	}
}

// TestBatchSpans: one span per batch carrying counts and the plan version
// only; a record published without a trace is delivered as a child of its
// batch's trace.
func TestBatchSpans(t *testing.T) {
	m := newMechanics(t, 1)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	w := m.worker(t, nil, nil, WithTracerProvider(tp))
	stop := runWorker(t, w)
	m.k.publish(t, m.records(3, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	spans := rec.Ended()
	if len(spans) == 0 {
		t.Fatal("no batch span")
	}
	traces := map[string]bool{}
	records := 0
	for _, s := range spans {
		if s.Name() != "exchange.batch" {
			t.Errorf("span %q", s.Name())
		}
		traces[s.SpanContext().TraceID().String()] = true
		for _, a := range s.Attributes() {
			switch a.Key {
			case "exchange.records":
				records += int(a.Value.AsInt64())
			case "exchange.plan_version", "exchange.messages_out", "exchange.partitions_committed", "exchange.commit_group_batches":
			default:
				t.Errorf("unexpected span attribute %s", a.Key)
			}
		}
	}
	if records != 3 {
		t.Errorf("spans count %d records, want 3", records)
	}
	for _, d := range m.k.readAll(t, m.topicA) {
		h, _ := header(d, HeaderTraceparent)
		tid, _, ok := parseTraceparent(h)
		if !ok || !traces[tid.String()] {
			t.Errorf("delivery traceparent %q is not in a batch span's trace", h)
		}
	}
}

func histogramCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatalf("reading metric: %v", err)
	}
	return m.GetHistogram().GetSampleCount()
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatalf("reading metric: %v", err)
	}
	return m.GetGauge().GetValue()
}

// TestMetricsSharedByWorkers: workers of one process add up in the lag and
// paused gauges.
func TestMetricsSharedByWorkers(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	a, b := new(int), new(int)
	m.setLag(a, 5)
	m.setLag(b, 7)
	if g := gaugeValue(t, m.lag); g != 12 {
		t.Errorf("lag = %v, want 12", g)
	}
	m.dropLag(a)
	if g := gaugeValue(t, m.lag); g != 7 {
		t.Errorf("lag = %v after a reader closed, want 7", g)
	}
	m.setPaused(true)
	m.setPaused(true)
	m.setPaused(false)
	if g := gaugeValue(t, m.paused); g != 1 {
		t.Errorf("paused = %v, want 1", g)
	}
}
