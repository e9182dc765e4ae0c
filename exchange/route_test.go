package exchange

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
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
	rt.setKeys(testRecordKeys())
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
	// The key hash is keyed: a plain SHA-256 of a guessable key is reversed.
	if hex.EncodeToString(e.KeyHash) != keyHashHex("citizen-1") {
		t.Errorf("key hash %x, want the keyed hash", e.KeyHash)
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
	// The delivery key is a keyed hash of the source key under the
	// agreement's key (it was the source key itself before delivery keys):
	// the contract names no key field, so no agreement keeps it.
	if out.Topic != names.Deliver("social", "ag-active") || !bytes.Equal(out.Key, deliveryKeyOf("ag-active", "citizen-1")) {
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
	// route alone does not sign (routeBatch signs a batch's deliveries at
	// once), and leaves the slot for exchange-signature.
	if len(out.Headers) != 5 || cap(out.Headers) != 6 {
		t.Errorf("%d headers (capacity %d): %v", len(out.Headers), cap(out.Headers), out.Headers)
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

// signedBatch routes n records with source keys key-0… through two active
// agreements and returns the deliveries.
func signedBatch(t *testing.T, n int) []kafka.Message {
	t.Helper()
	ds := "health.people"
	plan := compileWorld(t, "v-sig", []string{ds}, []testAgreement{
		{id: "ag-a", consumer: "social", dataset: ds, fields: []string{"id", "n"}},
		{id: "ag-b", consumer: "tax", dataset: ds, fields: []string{"n"}},
	})
	_, _, r := routeWorld(t)
	batch := make([]fetched, n)
	for i := range batch {
		batch[i].msg = kafka.Message{Topic: names.Ingress(ds), Partition: i % 3, Offset: int64(i), Key: []byte(fmt.Sprintf("key-%d", i)),
			Value: personValue(personSchemaID(0), person{ID: fmt.Sprintf("p%d", i), N: int64(i)})}
	}
	var out []kafka.Message
	for _, res := range r.routeBatch(plan, batch, e2eNow, trace.SpanContext{}, make([]policy.Decision, n)) {
		out = append(out, res.out...)
	}
	if len(out) != 2*n {
		t.Fatalf("%d deliveries, want %d", len(out), 2*n)
	}
	return out
}

func sigDelivery(m *kafka.Message) (*deliverysig.Delivery, string) {
	agr, _ := header(*m, HeaderAgreement)
	id, _ := header(*m, HeaderDeliveryID)
	sig, _ := header(*m, HeaderSignature)
	return &deliverysig.Delivery{Agreement: agr, DeliveryID: id, Topic: m.Topic, Key: m.Key, Value: m.Value}, sig
}

// TestRouteBatchSignsDeliveries: every delivery of a batch carries an
// exchange-signature that verifies alone; 300 deliveries of one agreement
// make trees of at most MaxTreeLeaves, of equal sizes.
func TestRouteBatchSignsDeliveries(t *testing.T) {
	sizes := map[string]int{}
	for _, m := range signedBatch(t, 300) {
		d, sig := sigDelivery(&m)
		if err := deliverysig.Verify(testVerifyKeys, d, sig); err != nil {
			t.Fatalf("%s %s: %v", m.Topic, d.DeliveryID, err)
		}
		s, _ := deliverysig.ParseHeader(sig)
		sizes[d.Agreement+" n="+strconv.Itoa(s.Size)]++
	}
	if want := map[string]int{"ag-a n=100": 300, "ag-b n=100": 300}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("tree sizes %v, want %v", sizes, want)
	}
}

// TestForgedDeliveriesFail: what a client other than the exchange can
// write to a delivery topic fails the consumer's check: the headers of a
// genuine delivery copied onto another value or key, moved to another
// record or agreement, or a signature by another key.
func TestForgedDeliveriesFail(t *testing.T) {
	ms := signedBatch(t, 4)
	genuine := ms[0]
	forge := map[string]func(m *kafka.Message){
		"value altered": func(m *kafka.Message) {
			m.Value = append(bytes.Clone(m.Value[:len(m.Value)-1]), m.Value[len(m.Value)-1]^1)
		},
		"key altered":               func(m *kafka.Message) { m.Key = []byte("key-0") },
		"headers on another record": func(m *kafka.Message) { m.Key, m.Value = ms[2].Key, ms[2].Value },
		"written to another topic":  func(m *kafka.Message) { m.Topic = names.Deliver("tax", "ag-a") },
		"another record's signature": func(m *kafka.Message) {
			sig, _ := header(ms[2], HeaderSignature)
			setHeader(m, HeaderSignature, sig)
		},
		"agreement header changed": func(m *kafka.Message) { setHeader(m, HeaderAgreement, "ag-b") },
		"delivery id changed": func(m *kafka.Message) {
			setHeader(m, HeaderDeliveryID, DeliveryID("ag-a", "ingress.health.people", 0, 99))
		},
		"signed by another key": func(m *kafka.Message) {
			other := deliverysig.NewSigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))
			d, _ := sigDelivery(m)
			setHeader(m, HeaderSignature, string(other.SignTree(d.Agreement, []deliverysig.Hash{deliverysig.Leaf(d)})[0]))
		},
		"no signature": func(m *kafka.Message) { setHeader(m, HeaderSignature, "") },
	}
	for name, f := range forge {
		m := genuine
		m.Headers = slices.Clone(genuine.Headers)
		f(&m)
		d, sig := sigDelivery(&m)
		if err := deliverysig.Verify(testVerifyKeys, d, sig); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if d, sig := sigDelivery(&genuine); deliverysig.Verify(testVerifyKeys, d, sig) != nil {
		t.Error("the genuine delivery does not verify")
	}
}

func setHeader(m *kafka.Message, key, value string) {
	for i := range m.Headers {
		if m.Headers[i].Key == key {
			m.Headers[i].Value = []byte(value)
		}
	}
}

// TestDeliveryKeys: one source key gives one delivery key per agreement
// (per-key order holds), different across agreements; an agreement that
// keeps the contract's key field receives the source key; a nil key stays
// nil.
func TestDeliveryKeys(t *testing.T) {
	ds := "health.people"
	plan := compileWorldWith(t, "v-keys", []string{ds}, []testAgreement{
		{id: "ag-keeps-id", consumer: "social", dataset: ds, fields: []string{"id", "n"}},
		{id: "ag-no-id", consumer: "tax", dataset: ds, fields: []string{"n"}},
		{id: "ag-no-id-2", consumer: "stats", dataset: ds, fields: []string{"n"}},
	}, func(in *policy.Input) { in.Contracts[0].Key = "id" })
	_, _, r := routeWorld(t)
	route := func(key []byte, offset int64) map[string][]byte {
		m := kafka.Message{Topic: names.Ingress(ds), Offset: offset, Key: key, Value: personValue(personSchemaID(0), person{ID: "p1", N: 1})}
		var d policy.Decision
		out := map[string][]byte{}
		for _, o := range r.route(plan, &m, e2eNow, trace.SpanContext{}, &d).out {
			agr, _ := header(o, HeaderAgreement)
			out[agr] = o.Key
		}
		return out
	}
	first, again := route([]byte("p1"), 1), route([]byte("p1"), 2)
	if !reflect.DeepEqual(first, again) {
		t.Errorf("one source key, two delivery keys: %q, %q", first, again)
	}
	if string(first["ag-keeps-id"]) != "p1" {
		t.Errorf("keeping agreement got key %q, want the source key", first["ag-keeps-id"])
	}
	if !bytes.Equal(first["ag-no-id"], deliveryKeyOf("ag-no-id", "p1")) || bytes.Equal(first["ag-no-id"], first["ag-no-id-2"]) {
		t.Errorf("derived keys %q, %q: want distinct keyed hashes", first["ag-no-id"], first["ag-no-id-2"])
	}
	for agr, k := range route(nil, 3) {
		if k != nil {
			t.Errorf("%s: nil source key delivered as %q", agr, k)
		}
	}
}

// TestLedgerPlainThenKeyedKeyHashes: a ledger whose older entries hold the
// plain SHA-256 key hashes the exchange wrote before key hashes were keyed,
// and whose newer ones hold keyed hashes, verifies as one chain (with
// signed checkpoints): the chain hashes the key hash's bytes, whichever
// form they are, so old entries keep theirs.
func TestLedgerPlainThenKeyedKeyHashes(t *testing.T) {
	plan, ds, r := routeWorld(t)
	batch := make([]fetched, 6)
	for i := range batch {
		batch[i].msg = kafka.Message{Topic: names.Ingress(ds), Offset: int64(i), Key: []byte(fmt.Sprintf("citizen-%d", i)),
			Value: personValue(personSchemaID(0), person{ID: "p", N: int64(i)})}
	}
	res := r.routeBatch(plan, batch, e2eNow, trace.SpanContext{}, make([]policy.Decision, len(batch)))
	var before, after []ledger.Entry
	for i, rr := range res {
		e := rr.entry
		if i < 3 {
			sum := sha256.Sum256(batch[i].msg.Key) // as written before keyed key hashes
			e.KeyHash = sum[:]
			before = append(before, e)
		} else {
			after = append(after, e)
		}
	}
	_, key, _ := ed25519.GenerateKey(nil)
	db, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "ledger.db"), store.WithSigningKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, es := range [][]ledger.Entry{before, after} {
		if err := db.Append(t.Context(), es); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := ledger.Verify(t.Context(), db, ledger.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	chains, _ := db.Chains(t.Context())
	var got []string
	for _, c := range chains {
		_ = db.ChainEntries(t.Context(), c, func(e *ledger.Entry) error {
			got = append(got, hex.EncodeToString(e.KeyHash))
			return nil
		})
	}
	for i := range batch {
		want := keyHashHex(string(batch[i].msg.Key))
		if i < 3 {
			want = sha256Hex(string(batch[i].msg.Key))
		}
		if i >= len(got) || got[i] != want {
			t.Fatalf("entry %d key hash %v, want %s", i, got, want)
		}
	}
}
