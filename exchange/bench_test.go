package exchange

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/policy"
)

// BenchmarkWorker measures the worker end to end on the example plan:
// b.N immunisation records (one in twenty quarantined) are published first,
// then the timer runs from the worker's start until the group has committed
// them all. Reported: records/s. BenchmarkRawPassThrough is the baseline on
// the same broker: kafka-go group consume, produce, commit, no policy.
//
//	go test -run '^$' -bench 'Worker|RawPassThrough' -benchtime 50000x ./exchange
func BenchmarkWorker(b *testing.B) { benchWorker(b, nopLedger{}, 1000) }

// BenchmarkWorkerSQLite is BenchmarkWorker with the embedded SQLite ledger
// of the dev mode, at two batch sizes.
func BenchmarkWorkerSQLite(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "ledger.db"), store.NewConfig())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchWorker(b, db, n)
		})
	}
}

func benchWorker(b *testing.B, lg Ledger, batch int) {
	k := startKafka(b)
	ex := loadExamples(b)
	k.ensure(b, 3, Topics(ex.plan)...)
	ds := ex.dataset("health.immunisations")
	ingress := names.Ingress(ds)
	msgs := benchRecords(b, ex, ingress, b.N)
	publishChunks(b, k, msgs)

	group := "exchange-bench-" + suffix()
	holder := &policy.Holder{}
	holder.Store(ex.plan)
	cfg := WorkerConfig{Kafka: kafkaAt(k.brokers, group), Tuning: Tuning{MaxBatchRecords: batch}}
	k.groupTimings(&cfg)
	metrics := NewMetrics(nil)
	w, err := NewWorker(cfg, holder, lg, WithLogger(testLogger(b)), WithMetrics(metrics), WithClock(func() time.Time { return e2eNow }))
	if err != nil {
		b.Fatal(err)
	}
	stop := runWorker(b, w)
	// The clock starts once the group is joined: join time is not throughput.
	waitFor(b, time.Minute, "worker joined", func() bool { return w.Ready(context.Background()) == nil })
	b.ResetTimer()
	start := time.Now()
	k.waitCaughtUp(b, group, 10*time.Minute, ingress)
	el := time.Since(start)
	b.StopTimer()
	_ = stop()
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
	var hs, hd dto.Metric
	_ = metrics.batchSize.Write(&hs)
	_ = metrics.batchDur.Write(&hd)
	if n := hs.GetHistogram().GetSampleCount(); n > 0 {
		b.ReportMetric(hs.GetHistogram().GetSampleSum()/float64(n), "records/batch")
		b.ReportMetric(hd.GetHistogram().GetSampleSum()/float64(n)*1000, "ms/batch")
	}
}

// BenchmarkRawPassThrough: the raw kafka-go baseline (see BenchmarkWorker).
func BenchmarkRawPassThrough(b *testing.B) {
	k := startKafka(b)
	ex := loadExamples(b)
	ds := ex.dataset("health.immunisations")
	ingress, out := names.Ingress(ds), "raw.out."+ex.sfx
	k.ensure(b, 3, ingress, out)
	msgs := benchRecords(b, ex, ingress, b.N)
	publishChunks(b, k, msgs)
	group := "raw-bench-" + suffix()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.brokers, GroupID: group, GroupTopics: []string{ingress},
		StartOffset: kafka.FirstOffset, MaxWait: 250 * time.Millisecond, QueueCapacity: 1000, MaxBytes: 10 << 20})
	defer r.Close()
	w := &kafka.Writer{Addr: kafka.TCP(k.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond, BatchSize: 1000, BatchBytes: 900 << 10, Transport: k.transport}
	defer w.Close()
	batch := make([]kafka.Message, 0, 1000)
	var start time.Time
	for done := 0; done < b.N; {
		batch = batch[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if done == 0 {
			// The clock starts once the group is joined, as for BenchmarkWorker.
			b.ResetTimer()
			start = time.Now()
		}
		batch = append(batch, m)
	fill:
		for len(batch) < 1000 {
			fctx, fcancel := context.WithTimeout(ctx, 5*time.Millisecond)
			m, err := r.FetchMessage(fctx)
			fcancel()
			if err != nil {
				break fill
			}
			batch = append(batch, m)
		}
		outs := make([]kafka.Message, len(batch))
		for i, m := range batch {
			outs[i] = kafka.Message{Topic: out, Key: m.Key, Value: m.Value}
		}
		if err := w.WriteMessages(ctx, outs...); err != nil {
			b.Fatal(err)
		}
		if err := r.CommitMessages(ctx, batch...); err != nil {
			b.Fatal(err)
		}
		done += len(batch)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
}

type nopLedger struct{}

func (nopLedger) Append(context.Context, []ledger.Entry) error { return nil }

func (nopLedger) HighestOffset(context.Context, ledger.Chain) (int64, error) { return -1, nil }

func (nopLedger) PayloadHashes(context.Context, ledger.Chain, int64, int64) (map[int64][]byte, error) {
	return nil, nil
}

// benchRecords returns n immunisation records, one in twenty failing a
// quality rule, keys spread over 1000 citizens.
func benchRecords(b *testing.B, ex *examples, ingress string, n int) []kafka.Message {
	const imm = "ingress.health.immunisations-value"
	good := ex.encode(b, imm, immunisation("rec", "north", time.Minute))
	badRec := immunisation("rec", "north", time.Minute)
	badRec["age"] = 200
	bad := ex.encode(b, imm, badRec)
	out := make([]kafka.Message, n)
	for i := range out {
		v := good
		if i%20 == 19 {
			v = bad
		}
		out[i] = kafka.Message{Topic: ingress, Key: []byte(fmt.Sprintf("citizen-%d", i%1000)), Value: v}
	}
	return out
}

func publishChunks(b *testing.B, k *testKafka, msgs []kafka.Message) {
	for i := 0; i < len(msgs); i += 5000 {
		k.publish(b, msgs[i:min(i+5000, len(msgs))]...)
	}
}

// BenchmarkDecide: the per-record work of the worker (headers, frame,
// Evaluate, delivery ids, traceparent, ledger entry), without Kafka.
func BenchmarkDecide(b *testing.B) {
	ex, msgs, w := decideBench(b)
	routeEach(b, ex, msgs, w)
}

// routeEach routes msgs one by one, b.N records.
func routeEach(b *testing.B, ex *examples, msgs []kafka.Message, w *Worker) {
	var d policy.Decision
	var sc trace.SpanContext
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := &msgs[i%len(msgs)]
		m.Offset = int64(i)
		_ = w.router.route(ex.plan, m, e2eNow, sc, &d)
	}
}

// BenchmarkDecideGated is BenchmarkDecide with the lifecycle gate on
// (every agreement active for its terms): the kill switch's cost per
// record, one map lookup per delivered agreement.
func BenchmarkDecideGated(b *testing.B) {
	ex, msgs, w := decideBench(b)
	states := map[string]store.AgreementState{}
	for _, ds := range ex.plan.Datasets() {
		for _, info := range ex.plan.Agreements(ds) {
			states[info.ID] = store.AgreementState{ID: info.ID, Status: agreements.StatusActive, ContentHash: info.ContentHash}
		}
	}
	w.router.gate = &gateSnapshot{states: states, readAt: e2eNow}
	routeEach(b, ex, msgs, w)
}

// BenchmarkDecideBatch is BenchmarkDecide through routeBatch, batches of
// 500 records: with the exchange-signature of every delivery (one Ed25519
// signature per tree of up to 128 deliveries). ns/op is per record.
func BenchmarkDecideBatch(b *testing.B) {
	ex, msgs, w := decideBench(b)
	const size = 500
	batch := make([]fetched, size)
	decisions := make([]policy.Decision, size)
	var sc trace.SpanContext
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += size {
		for j := range batch {
			batch[j].msg = msgs[(i+j)%len(msgs)]
			batch[j].msg.Offset = int64(i + j)
		}
		_ = w.router.routeBatch(ex.plan, batch, e2eNow, sc, decisions)
	}
}

// decideBench is the examples' plan, 1000 immunisation records and a
// worker with the tests' record keys, for the decide benchmarks.
func decideBench(b *testing.B) (*examples, []kafka.Message, *Worker) {
	ex := loadExamples(b)
	ds := ex.dataset("health.immunisations")
	msgs := benchRecords(b, ex, names.Ingress(ds), 1000)
	w, err := NewWorker(WorkerConfig{Kafka: kafkaAt([]string{"127.0.0.1:1"}, "")}, &policy.Holder{}, nopLedger{}, WithRecordKeys(testRecordKeys()))
	if err != nil {
		b.Fatal(err)
	}
	return ex, msgs, w
}

// BenchmarkEvaluateOnly is BenchmarkDecide's Evaluate part alone.
func BenchmarkEvaluateOnly(b *testing.B) {
	ex := loadExamples(b)
	ds := ex.dataset("health.immunisations")
	msgs := benchRecords(b, ex, names.Ingress(ds), 1000)
	var d policy.Decision
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v := msgs[i%len(msgs)].Value
		ex.plan.EvaluateInto(policy.Record{Dataset: ds, SchemaID: int(v[4]), Body: v[5:]}, e2eNow, &d)
	}
}

// BenchmarkObserveBatch is what the audit stage spends per record after
// the commit on batches of 500 decided records: the metrics alone, and
// with an activity observer (counts with details and the timeliness facts
// of countBatch and batchTimeliness; the observer keeps nothing). ns/op is
// per record; compare with BenchmarkDecideBatch.
func BenchmarkObserveBatch(b *testing.B) {
	ex, msgs, w := decideBench(b)
	const size = 500
	batch := make([]fetched, size)
	for j := range batch {
		batch[j].msg = msgs[j%len(msgs)]
		batch[j].msg.Offset = int64(j)
	}
	p := &prepared{batch: batch, now: e2eNow, produced: e2eNow.Add(time.Millisecond)}
	p.results = w.router.routeBatch(ex.plan, batch, e2eNow, trace.SpanContext{}, make([]policy.Decision, size))
	for _, c := range []struct {
		name string
		o    ActivityObserver
	}{{"metrics_only", nil}, {"observer", discardActivity{}}} {
		b.Run(c.name, func(b *testing.B) {
			w.activity = c.o
			b.ReportAllocs()
			for i := 0; i < b.N; i += size {
				w.observe(p)
			}
		})
	}
}

type discardActivity struct{}

func (discardActivity) ObserveActivity(BatchActivity) {}
