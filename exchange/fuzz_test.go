package exchange

import (
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// FuzzDecide feeds arbitrary ingress records (key, value, one header) to the
// worker's per-record path on the example plan. It must never panic, and
// every record must come out as exactly one ledger entry and either
// deliveries or one quarantine copy, with no publisher header in the
// exchange-* namespace surviving.
func FuzzDecide(f *testing.F) {
	ex := loadExamples(f)
	const imm = "ingress.health.immunisations-value"
	ds := ex.dataset("health.immunisations")
	good := ex.encode(f, imm, immunisation("rec-1", "north", 1))
	f.Add([]byte("k"), good, "x-app", []byte("v"))
	f.Add([]byte("k"), good, "Exchange-Agreement", []byte("forged"))
	f.Add([]byte(nil), []byte(nil), "traceparent", []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	f.Add([]byte("k"), []byte("garbage"), "", []byte(nil))
	f.Add([]byte("k"), append(schemas.AppendFrame(nil, 9999), 1, 2, 3), "exchange-reason", []byte("none"))
	f.Add([]byte("k"), good[:len(good)/2], "traceparent", []byte("00-zz"))

	w, err := NewWorker(WorkerConfig{Kafka: kafkaAt([]string{"127.0.0.1:1"}, ""), Tuning: Tuning{MaxRecordBytes: 4096}}, &policy.Holder{}, nopLedger{})
	if err != nil {
		f.Fatal(err)
	}
	var d policy.Decision
	f.Fuzz(func(t *testing.T, key, value []byte, hkey string, hval []byte) {
		m := kafka.Message{Topic: names.Ingress(ds), Partition: 1, Offset: 42, Key: key, Value: value}
		if hkey != "" || hval != nil {
			m.Headers = []kafka.Header{{Key: hkey, Value: hval}}
		}
		r := w.router.route(ex.plan, &m, e2eNow, trace.SpanContext{}, &d)
		if r.entry.Topic != m.Topic || r.entry.Partition != 1 || r.entry.Offset != 42 {
			t.Fatalf("ledger entry names %s/%d/%d", r.entry.Topic, r.entry.Partition, r.entry.Offset)
		}
		switch r.entry.Decision {
		case ledger.Quarantined:
			if len(r.out) != 1 || r.out[0].Topic != names.Quarantine(ds) || len(r.entry.Reasons) == 0 {
				t.Fatalf("quarantine produced %d messages, reasons %v", len(r.out), r.entry.Reasons)
			}
			if got, _ := header(r.out[0], HeaderReason); !strings.HasPrefix(got, r.entry.Reasons[0]) {
				t.Fatalf("%s %q, ledger %v", HeaderReason, got, r.entry.Reasons)
			}
		case ledger.Delivered:
			if len(r.out) != len(r.entry.Deliveries) || len(r.out) == 0 {
				t.Fatalf("%d messages for %d deliveries", len(r.out), len(r.entry.Deliveries))
			}
		case ledger.Dropped:
			if len(r.out) != 0 {
				t.Fatalf("dropped record produced %d messages", len(r.out))
			}
		default:
			t.Fatalf("decision %q", r.entry.Decision)
		}
		for _, o := range r.out {
			seen := map[string]int{}
			for _, h := range o.Headers {
				if isReserved(h.Key) {
					seen[h.Key]++
					if h.Key != strings.ToLower(h.Key) || seen[h.Key] > 1 {
						t.Fatalf("publisher header %q survived", h.Key)
					}
				}
			}
			if len(o.Key)+len(o.Value) > w.cfg.MaxRecordBytes+maxQuarantineKeyBytes {
				t.Fatalf("output of %d bytes", len(o.Key)+len(o.Value))
			}
		}
	})
}
