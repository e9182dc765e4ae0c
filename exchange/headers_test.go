package exchange

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/policy"
)

func TestDeliveryIDStable(t *testing.T) {
	// Golden: changing the derivation would break consumers' duplicate
	// detection across an upgrade.
	got := DeliveryID("health-to-social-2026-001", "ingress.health.immunisations", 2, 41)
	if len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" {
		t.Fatalf("DeliveryID = %q, want 32 lower-case hex digits", got)
	}
	if got != DeliveryID("health-to-social-2026-001", "ingress.health.immunisations", 2, 41) {
		t.Fatal("DeliveryID is not deterministic")
	}
	for _, other := range []string{
		DeliveryID("health-to-statistics-2026-002", "ingress.health.immunisations", 2, 41),
		DeliveryID("health-to-social-2026-001", "ingress.health.immunisations", 2, 42),
		DeliveryID("health-to-social-2026-001", "ingress.health.immunisations", 1, 41),
		DeliveryID("health-to-social-2026-00", "1|ingress.health.immunisations", 2, 41),
	} {
		if other == got {
			t.Errorf("DeliveryID collision: %s", other)
		}
	}
	// ledger.DeliveryID: sha256("\x19" "health-to-social-2026-001"
	// "ingress.health.immunisations")[:4], partition 2, offset 41.
	const golden = "623d67ea" + "00000002" + "0000000000000029"
	if got != golden {
		t.Errorf("DeliveryID = %s, want %s", got, golden)
	}
}

func TestIsReserved(t *testing.T) {
	for key, want := range map[string]bool{
		"exchange-agreement": true, "Exchange-Delivery-Id": true, "EXCHANGE-": true, "exchange-x": true,
		"exchange": false, "x-exchange-agreement": false, "traceparent": false, "": false,
	} {
		if got := isReserved(key); got != want {
			t.Errorf("isReserved(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestTraceparent(t *testing.T) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	tid, flags, ok := parseTraceparent(parent)
	if !ok || tid.String() != "0af7651916cd43dd8448eb211c80319c" || flags != 1 {
		t.Fatalf("parse(%q) = %v %v %v", parent, tid, flags, ok)
	}
	child := childTraceparent(parent, trace.SpanContext{})
	if !strings.HasPrefix(child, "00-0af7651916cd43dd8448eb211c80319c-") || !strings.HasSuffix(child, "-01") ||
		strings.Contains(child, "b7ad6b7169203331") || len(child) != 55 {
		t.Errorf("child of %q = %q", parent, child)
	}
	if _, _, ok := parseTraceparent(child); !ok {
		t.Errorf("child %q does not parse", child)
	}
	for _, bad := range []string{
		"",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",      // no flags
		"00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
		"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero span id
		"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",   // upper case
		"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // version ff
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", // v00 with extra
		"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01",   // separator
		"00-0af7651916cd43dd8448eb211c8031zz-b7ad6b7169203331-01",   // not hex
	} {
		if _, _, ok := parseTraceparent(bad); ok {
			t.Errorf("parseTraceparent(%q) accepted", bad)
		}
		c := childTraceparent(bad, trace.SpanContext{})
		if _, _, ok := parseTraceparent(c); !ok || strings.Contains(c, "0af7651916cd43dd8448eb211c80319c") {
			t.Errorf("child of invalid %q = %q, want a new valid trace", bad, c)
		}
	}
	// A future version with extra fields is read by its version-00 prefix.
	if _, _, ok := parseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"); !ok {
		t.Error("future-version traceparent refused")
	}
}

func TestNewWorkerNilOptions(t *testing.T) {
	w, err := NewWorker(WorkerConfig{Kafka: kafkaAt([]string{"127.0.0.1:1"}, "")}, &policy.Holder{}, nopLedger{},
		WithLogger(nil), WithTracerProvider(nil), WithMetrics(nil), WithClock(nil))
	if err != nil {
		t.Fatal(err)
	}
	if w.log == nil || w.tracer == nil || w.metrics == nil || w.now == nil {
		t.Fatal("nil option replaced a default with nil")
	}
	if _, err := NewWorker(WorkerConfig{}, &policy.Holder{}, nopLedger{}); err == nil {
		t.Error("no brokers accepted")
	}
	if _, err := NewWorker(WorkerConfig{Kafka: kafkaAt([]string{"x:1"}, ""), Tuning: Tuning{MaxRecordBytes: 2 << 20}}, &policy.Holder{}, nopLedger{}); err == nil {
		t.Error("records larger than a produce batch accepted")
	}
}
