package exchange

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// routeWorld is a compiled plan for routing tests: one dataset, an active
// agreement and a suspended one. No Worker and no Kafka.
func routeWorld(t *testing.T) (plan *policy.Plan, dataset string, r *router) {
	t.Helper()
	dataset = "health.people"
	plan = compileWorld(t, "v-route", []string{dataset}, []testAgreement{
		{id: "ag-active", consumer: "social", dataset: dataset, fields: []string{"id", "n"}},
		{id: "ag-suspended", consumer: "tax", dataset: dataset, fields: []string{"n"}, status: agreements.StatusSuspended},
	})
	cfg := WorkerConfig{Tuning: Tuning{MaxRecordBytes: 256, MaxHeaders: 3, MaxHeaderBytes: 200}}
	cfg.setDefaults()
	rt := newRouter(&cfg)
	return plan, dataset, &rt
}

func TestRouteDelivers(t *testing.T) {
	plan, ds, r := routeWorld(t)
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ts := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("x", 3600))
	m := kafka.Message{
		Topic: names.Ingress(ds), Partition: 2, Offset: 42, Time: ts,
		Key:   []byte("citizen-1"),
		Value: personValue(personSchemaID(0), person{ID: "p1", N: 5, Region: "north"}),
		Headers: []kafka.Header{
			{Key: "x-app", Value: []byte("v")},
			{Key: "Exchange-Agreement", Value: []byte("forged")},
			{Key: "traceparent", Value: []byte(parent)},
		},
	}
	var d policy.Decision
	res := r.route(plan, &m, e2eNow, trace.SpanContext{}, &d)

	e := res.entry
	if e.Decision != ledger.Delivered || e.Topic != m.Topic || e.Partition != 2 || e.Offset != 42 ||
		e.Dataset != ds || e.PlanVersion != "v-route" || !e.DecisionTime.Equal(e2eNow) || e.SchemaID != personSchemaID(0) {
		t.Fatalf("entry %+v", e)
	}
	if sum := sha256.Sum256(m.Value); !bytes.Equal(e.PayloadHash, sum[:]) {
		t.Errorf("payload hash %x", e.PayloadHash)
	}
	if len(e.Skips) != 1 || e.Skips[0] != (ledger.Skip{AgreementID: "ag-suspended", Reason: policy.SkipSuspended}) {
		t.Errorf("skips %+v", e.Skips)
	}
	wantID := DeliveryID("ag-active", m.Topic, 2, 42)
	if len(e.Deliveries) != 1 || e.Deliveries[0].DeliveryID != wantID || e.Deliveries[0].Topic != names.Deliver("social", "ag-active") {
		t.Fatalf("deliveries %+v", e.Deliveries)
	}
	if len(res.out) != 1 {
		t.Fatalf("%d messages, want 1", len(res.out))
	}
	out := res.out[0]
	if out.Topic != names.Deliver("social", "ag-active") || string(out.Key) != "citizen-1" {
		t.Errorf("delivery to %s key %q", out.Topic, out.Key)
	}
	if got := decodeFor(t, plan, ds, "ag-active", out.Value); got["id"] != "p1" || got["n"] != int64(5) || got["region"] != nil {
		t.Errorf("delivered value %v", got)
	}
	// Exactly the exchange's headers: publisher headers (forged or not)
	// are not delivered.
	want := map[string]string{
		HeaderAgreement:  "ag-active",
		HeaderDeliveryID: wantID,
		HeaderSource:     m.Topic + "/2/42",
		HeaderEventTime:  "2026-03-01T11:30:45.123Z", // no event-time field: the Kafka timestamp, UTC
	}
	if len(out.Headers) != 5 {
		t.Errorf("%d headers: %v", len(out.Headers), out.Headers)
	}
	for k, v := range want {
		if got, _ := header(out, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if tp, _ := header(out, HeaderTraceparent); !strings.HasPrefix(tp, "00-0af7651916cd43dd8448eb211c80319c-") || tp == parent {
		t.Errorf("traceparent %q does not continue the publisher's trace", tp)
	}
}

func TestRouteQuarantines(t *testing.T) {
	plan, ds, r := routeWorld(t)
	good := personValue(personSchemaID(0), person{ID: "p1", N: 5, Region: "north"})
	xapp := kafka.Header{Key: "x-app", Value: []byte("v")}
	cases := []struct {
		name      string
		key       []byte
		value     []byte
		headers   []kafka.Header
		reasons   string // exchange-reason and the ledger's codes
		value0    bool   // the copy's value is empty (not the original)
		noHeaders bool   // publisher headers are not copied
	}{
		{name: "quality", value: personValue(personSchemaID(0), person{ID: "p1", N: -1}), headers: []kafka.Header{xapp}, reasons: "quality:n_nonneg"},
		{name: "malformed", value: []byte("garbage"), headers: []kafka.Header{xapp}, reasons: policy.ReasonDecodeMalformed},
		{name: "tombstone", value: nil, reasons: policy.ReasonDecodeTombstone},
		{name: "unknown schema id", value: framed(999, "x"), reasons: policy.ReasonSchemaUnknownID},
		{name: "too large", key: []byte("k"), value: append(bytes.Clone(good), make([]byte, 300)...), headers: []kafka.Header{xapp},
			reasons: policy.ReasonSizeTooLarge, value0: true},
		{name: "too many headers", value: good, headers: []kafka.Header{xapp, xapp, xapp, xapp},
			reasons: policy.ReasonHeadersInvalid, noHeaders: true},
		{name: "both limits", value: make([]byte, 300), headers: []kafka.Header{{Key: "big", Value: make([]byte, 250)}},
			reasons: policy.ReasonHeadersInvalid + "," + policy.ReasonSizeTooLarge, value0: true, noHeaders: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := kafka.Message{Topic: names.Ingress(ds), Partition: 1, Offset: 7, Key: c.key, Value: c.value, Headers: c.headers}
			var d policy.Decision
			res := r.route(plan, &m, e2eNow, trace.SpanContext{}, &d)
			if res.entry.Decision != ledger.Quarantined || strings.Join(res.entry.Reasons, ",") != c.reasons {
				t.Fatalf("decision %s reasons %v, want quarantined %s", res.entry.Decision, res.entry.Reasons, c.reasons)
			}
			if len(res.out) != 1 || res.out[0].Topic != names.Quarantine(ds) {
				t.Fatalf("messages %+v", res.out)
			}
			q := res.out[0]
			if got, _ := header(q, HeaderReason); got != c.reasons {
				t.Errorf("%s %q", HeaderReason, got)
			}
			if got, _ := header(q, HeaderSource); got != m.Topic+"/1/7" {
				t.Errorf("%s %q", HeaderSource, got)
			}
			if got, _ := header(q, HeaderDetail); got == "" || !strings.HasPrefix(got, strings.Split(c.reasons, ",")[0]+": ") {
				t.Errorf("%s %q", HeaderDetail, got)
			}
			switch {
			case c.value0 && len(q.Value) != 0:
				t.Errorf("quarantine copy keeps a value of %d bytes", len(q.Value))
			case !c.value0 && !bytes.Equal(q.Value, c.value):
				t.Errorf("quarantine copy's value differs from the original")
			}
			if _, ok := header(q, "x-app"); ok == c.noHeaders && len(c.headers) > 0 {
				t.Errorf("x-app copied: %v, want %v", ok, !c.noHeaders)
			}
		})
	}
}

// TestRouteBatch: a batch is routed record by record, in order, each on
// its own decision slot.
func TestRouteBatch(t *testing.T) {
	plan, ds, r := routeWorld(t)
	batch := make([]fetched, 3)
	for i := range batch {
		batch[i].msg = kafka.Message{Topic: names.Ingress(ds), Offset: int64(i),
			Value: personValue(personSchemaID(0), person{ID: "p", N: int64(i - 1)})}
	}
	res := r.routeBatch(plan, batch, e2eNow, trace.SpanContext{}, make([]policy.Decision, len(batch)))
	want := []ledger.Decision{ledger.Quarantined, ledger.Delivered, ledger.Delivered}
	if len(res) != len(want) {
		t.Fatalf("%d results", len(res))
	}
	for i, w := range want {
		if res[i].entry.Offset != int64(i) || res[i].entry.Decision != w {
			t.Errorf("result %d: offset %d %s, want %s", i, res[i].entry.Offset, res[i].entry.Decision, w)
		}
	}
}
