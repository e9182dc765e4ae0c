package exchange

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// The end-to-end suite: the example contracts and agreements of
// deploy/examples, compiled into a plan; records published to ingress with
// kafka-go as an agency would; the exact records read back from the
// delivery and quarantine topics with kafka-go as consumers would.

const examplesDir = "../deploy/examples"

// e2eNow is the exchange's clock in this suite: inside every example
// agreement's validity window.
var e2eNow = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// examples is the compiled example world. Dataset and agreement ids carry a
// suffix so that runs on a shared Kafka never read each other's topics.
type examples struct {
	plan      *policy.Plan
	sfx       string
	schemaIDs map[string]int         // subject -> id
	avro      map[string]avro.Schema // subject -> schema
}

func (e *examples) dataset(id string) string   { return id + "-" + e.sfx }
func (e *examples) agreement(id string) string { return id + "-" + e.sfx }

func pseudonymKey(agreementID string) []byte { return []byte("test-key/" + agreementID) }

func loadExamples(t testing.TB) *examples {
	t.Helper()
	set, err := agreements.LoadDir(examplesDir)
	if err != nil {
		t.Fatalf("loading %s: %v", examplesDir, err)
	}
	e := &examples{sfx: suffix(), schemaIDs: map[string]int{}, avro: map[string]avro.Schema{}}
	for i := range set.Contracts {
		set.Contracts[i].Dataset = e.dataset(set.Contracts[i].Dataset)
	}
	for i := range set.Agreements {
		set.Agreements[i].ID = e.agreement(set.Agreements[i].ID)
		set.Agreements[i].Provider = e.dataset(set.Agreements[i].Provider)
	}
	// Every <subject>.avsc as version 1 of its subject, ids 1, 2, ... in
	// file-name order, as the dev mode registers them.
	paths, err := filepath.Glob(filepath.Join(examplesDir, "*.avsc"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no schemas in %s: %v", examplesDir, err)
	}
	sort.Strings(paths)
	in := policy.Input{
		Agencies: set.Agencies, Contracts: set.Contracts, Agreements: set.Agreements,
		PseudonymKey: pseudonymKey, SubjectKey: []byte("subject-key"), Version: "examples-" + e.sfx,
	}
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := avro.ParseWithCache(string(b), "", &avro.SchemaCache{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		subject := strings.TrimSuffix(filepath.Base(p), ".avsc")
		e.schemaIDs[subject], e.avro[subject] = i+1, s
		in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: i + 1, Subject: subject, Version: 1, Avro: s})
	}
	e.plan, err = policy.Compile(in)
	if err != nil {
		t.Fatalf("compiling the examples: %v", err)
	}
	return e
}

// immunisation is a valid dose record of the health.immunisations schema,
// administered age before e2eNow.
func immunisation(id, region string, age time.Duration) map[string]any {
	return map[string]any{
		"record_id":        id,
		"citizen_id":       "19850412-1234",
		"date_of_birth":    time.Date(1985, 4, 12, 0, 0, 0, 0, time.UTC),
		"age":              41,
		"postcode":         "11452",
		"region":           region,
		"phone":            "+46701234567",
		"vaccine":          "MMR",
		"dose_number":      2,
		"batch_number":     "BATCH-7731",
		"administered_at":  e2eNow.Add(-age),
		"clinic":           map[string]any{"id": "CL-17", "region": region},
		"practitioner_id":  "P-555",
		"adverse_reaction": false,
		"source_system":    "clinic-ehr",
	}
}

func (e *examples) encode(t testing.TB, subject string, rec map[string]any) []byte {
	t.Helper()
	b, err := avro.Marshal(e.avro[subject], rec)
	if err != nil {
		t.Fatalf("encoding %s record: %v", subject, err)
	}
	return append(schemas.AppendFrame(nil, e.schemaIDs[subject]), b...)
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestEndToEnd publishes one record per path to ingress.health.immunisations
// and checks exactly what arrives on both delivery topics, the quarantine
// topic, and in the ledger.
// runOnExamples runs one worker of the examples' plan, its clock at
// e2eNow, in group over cases (published to ingress), and returns its
// ledger once the group has committed them all.
func runOnExamples(t *testing.T, k *testKafka, ex *examples, group, ingress string, cases []kafka.Message) *testLedger {
	t.Helper()
	mem := newTestLedger(t)
	k.ensureAudit(t, group, 3)
	mem.index(t, k.brokers, group)
	holder := &policy.Holder{}
	holder.Store(ex.plan)
	cfg := WorkerConfig{Kafka: kafkaAt(k.brokers, group)}
	k.groupTimings(&cfg)
	w, err := NewWorker(cfg, holder, mem, WithLogger(testLogger(t)), WithClock(func() time.Time { return e2eNow }), WithRecordKeys(testRecordKeys()))
	if err != nil {
		t.Fatal(err)
	}
	stop := runWorker(t, w)
	k.publish(t, cases...)
	k.waitCaughtUp(t, group, 60*time.Second, ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return mem
}

func TestEndToEnd(t *testing.T) {
	k := startKafka(t)
	ex := loadExamples(t)
	k.ensure(t, 3, Topics(ex.plan)...)

	const imm = "ingress.health.immunisations-value"
	ds := ex.dataset("health.immunisations")
	social := ex.agreement("health-to-social-2026-001")
	stats := ex.agreement("health-to-statistics-2026-002")
	ingress := names.Ingress(ds)
	socialTopic, statsTopic := names.Deliver("social-services", social), names.Deliver("statistics", stats)

	publisherTrace := "0af7651916cd43dd8448eb211c80319c"
	forged := []kafka.Header{
		{Key: "exchange-agreement", Value: []byte("tax-to-social-2026-004")},
		{Key: "Exchange-Delivery-Id", Value: []byte("forged")},
		{Key: "exchange-reason", Value: []byte("none")},
		{Key: "traceparent", Value: []byte("00-" + publisherTrace + "-b7ad6b7169203331-01")},
		{Key: "x-clinic-batch", Value: []byte("42")},
	}
	otherSubject := append(schemas.AppendFrame(nil, ex.schemaIDs["ingress.tax.income-assessments-value"]), 2, 'x')
	oldAge := immunisation("rec-quality", "north", time.Minute)
	oldAge["age"] = 200

	cases := []kafka.Message{
		// Both agreements: north is in the social filter, one minute old.
		{Key: []byte("two"), Value: ex.encode(t, imm, immunisation("rec-two", "north", time.Minute))},
		// Filtered out of social (south), delivered to statistics.
		{Key: []byte("filtered"), Value: ex.encode(t, imm, immunisation("rec-filtered", "south", time.Minute))},
		// Ten minutes old: within the contract's 15m, beyond social's stricter 5m.
		{Key: []byte("stale-for-social"), Value: ex.encode(t, imm, immunisation("rec-stale-social", "east", 10*time.Minute))},
		// Twenty minutes old: stale for the contract, quarantined.
		{Key: []byte("stale"), Value: ex.encode(t, imm, immunisation("rec-stale", "north", 20*time.Minute))},
		// Forged exchange-* headers and a publisher trace.
		{Key: []byte("forged"), Value: ex.encode(t, imm, immunisation("rec-forged", "east", time.Minute)), Headers: forged},
		// A schema id nobody registered.
		{Key: []byte("unknown-id"), Value: append(schemas.AppendFrame(nil, 9999), 2, 'x'),
			Headers: []kafka.Header{{Key: "x-clinic-batch", Value: []byte("43")}, {Key: "exchange-reason", Value: []byte("none")}}},
		// A registered id of another dataset's subject.
		{Key: []byte("other-subject"), Value: otherSubject},
		// Not the wire format at all.
		{Key: []byte("garbage"), Value: []byte("\x17\x03\x03 definitely not avro")},
		// A failing quality rule.
		{Key: []byte("quality"), Value: ex.encode(t, imm, oldAge)},
	}
	for i := range cases {
		cases[i].Topic = ingress
	}

	mem := runOnExamples(t, k, ex, "exchange-e2e-"+ex.sfx, ingress, cases)

	var caseKeys []string
	for _, c := range cases {
		caseKeys = append(caseKeys, string(c.Key))
	}
	// byKey names each message by its record's source key: deliveries
	// carry a keyed hash of it, or the key itself to social-services, whose
	// agreement keeps record_id, the field the contract says the key is
	// (the test's keys are not record ids: the exchange trusts the
	// contract's declaration).
	byKey := func(ms []kafka.Message) map[string]kafka.Message {
		out := map[string]kafka.Message{}
		for _, m := range ms {
			k := string(m.Key)
			if agr, ok := header(m, HeaderAgreement); ok {
				k = sourceKey(agr, m.Key, caseKeys)
			}
			if _, dup := out[k]; dup {
				t.Errorf("key %s delivered twice on %s", k, m.Topic)
			}
			out[k] = m
		}
		return out
	}
	keys := func(m map[string]kafka.Message) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	socialGot := byKey(k.readAll(t, socialTopic))
	statsGot := byKey(k.readAll(t, statsTopic))
	quarGot := byKey(k.readAll(t, names.Quarantine(ds)))
	if got, want := keys(socialGot), []string{"forged", "two"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%s received %v, want %v", socialTopic, got, want)
	}
	if got, want := keys(statsGot), []string{"filtered", "forged", "stale-for-social", "two"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("%s received %v, want %v", statsTopic, got, want)
	}
	if got, want := keys(quarGot), []string{"garbage", "other-subject", "quality", "stale", "unknown-id"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("quarantine received %v, want %v", got, want)
	}

	// Source positions of the published records, from the ledger (found
	// by key hash).
	entries := mem.all(t)
	if len(entries) != len(cases) {
		t.Fatalf("ledger has %d entries, want %d", len(entries), len(cases))
	}
	keyHash := keyHashHex // keyed (RecordKeys.KeyHash)
	entryOf := map[string]ledger.Entry{}
	for _, e := range entries {
		for _, c := range cases {
			if hex.EncodeToString(e.KeyHash) == keyHash(string(c.Key)) {
				entryOf[string(c.Key)] = e
			}
		}
	}

	month := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	pseudonym := hmacHex(pseudonymKey(social), "19850412-1234")
	wantSocial := func(id, region string) map[string]any {
		return map[string]any{
			"record_id": id, "citizen_id": pseudonym, "administered_at": month, "postcode": "11",
			"phone": "**********67", "region": region, "vaccine": "MMR", "dose_number": 2,
		}
	}
	wantStats := func(region string) map[string]any {
		return map[string]any{
			"age": 40, "date_of_birth": time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC), "administered_at": month,
			"postcode": "114", "region": region, "vaccine": "MMR", "dose_number": 2, "batch_number": sha256Hex("BATCH-7731"),
		}
	}
	checkDelivery := func(m kafka.Message, dataset, agreementID string, want map[string]any, wantEvent time.Time) {
		t.Helper()
		got := decodeFor(t, ex.plan, dataset, agreementID, m.Value)
		normalise(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s key %s delivered\n %v\nwant\n %v", m.Topic, m.Key, got, want)
		}
		src := sourceKey(agreementID, m.Key, caseKeys)
		e := entryOf[src]
		if wantKey := deliveryKeyOf(agreementID, src); agreementID == social {
			if string(m.Key) != src {
				t.Errorf("%s: key %q, want the source key %q (the agreement keeps record_id)", m.Topic, m.Key, src)
			}
		} else if !bytes.Equal(m.Key, wantKey) {
			t.Errorf("%s: key %q, want the keyed hash of %q", m.Topic, m.Key, src)
		}
		source := ingress + "/" + itoa(int(e.Partition)) + "/" + itoa(int(e.Offset))
		wantHeaders := map[string]string{
			HeaderAgreement:  agreementID,
			HeaderDeliveryID: DeliveryID(agreementID, ingress, int(e.Partition), e.Offset),
			HeaderSource:     source,
			HeaderEventTime:  wantEvent.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		}
		if len(m.Headers) != 6 {
			t.Errorf("%s key %s: headers %v, want exactly the 5 exchange headers and traceparent", m.Topic, m.Key, m.Headers)
		}
		sig, _ := header(m, HeaderSignature)
		if err := deliverysig.Verify(testVerifyKeys, &deliverysig.Delivery{Agreement: agreementID, DeliveryID: wantHeaders[HeaderDeliveryID],
			Topic: m.Topic, Key: m.Key, Value: m.Value}, sig); err != nil {
			t.Errorf("%s key %s: signature %q: %v", m.Topic, src, sig, err)
		}
		for hk, hv := range wantHeaders {
			if got, _ := header(m, hk); got != hv {
				t.Errorf("%s key %s: header %s = %q, want %q", m.Topic, m.Key, hk, got, hv)
			}
		}
		tp, _ := header(m, HeaderTraceparent)
		if _, _, ok := parseTraceparent(tp); !ok {
			t.Errorf("%s key %s: invalid traceparent %q", m.Topic, m.Key, tp)
		}
		found := false
		for _, d := range e.Deliveries {
			if d.AgreementID == agreementID && d.Topic == m.Topic && d.DeliveryID == wantHeaders[HeaderDeliveryID] {
				found = true
			}
		}
		if !found {
			t.Errorf("ledger entry of %s lacks the delivery to %s: %+v", m.Key, m.Topic, e.Deliveries)
		}
	}
	oneMin, tenMin := e2eNow.Add(-time.Minute), e2eNow.Add(-10*time.Minute)
	checkDelivery(socialGot["two"], ds, social, wantSocial("rec-two", "north"), oneMin)
	checkDelivery(socialGot["forged"], ds, social, wantSocial("rec-forged", "east"), oneMin)
	checkDelivery(statsGot["two"], ds, stats, wantStats("north"), oneMin)
	checkDelivery(statsGot["filtered"], ds, stats, wantStats("south"), oneMin)
	checkDelivery(statsGot["stale-for-social"], ds, stats, wantStats("east"), tenMin)
	checkDelivery(statsGot["forged"], ds, stats, wantStats("east"), oneMin)

	// The publisher's trace continues: same trace id, a new span id.
	tp, _ := header(socialGot["forged"], HeaderTraceparent)
	if !strings.HasPrefix(tp, "00-"+publisherTrace+"-") || strings.Contains(tp, "b7ad6b7169203331") || !strings.HasSuffix(tp, "-01") {
		t.Errorf("traceparent %q does not continue the publisher's trace", tp)
	}

	wantQuar := map[string]struct {
		reason  string
		headers map[string]string // non-exchange headers kept
	}{
		"stale":         {reason: "freshness:stale"},
		"unknown-id":    {reason: "schema:unknown_id", headers: map[string]string{"x-clinic-batch": "43"}},
		"other-subject": {reason: "schema:not_allowed_for_dataset"},
		"garbage":       {reason: "decode:malformed"},
		"quality":       {reason: "quality:age_in_range"},
	}
	for key, want := range wantQuar {
		m := quarGot[key]
		var orig kafka.Message
		for _, c := range cases {
			if string(c.Key) == key {
				orig = c
			}
		}
		if string(m.Value) != string(orig.Value) {
			t.Errorf("quarantine %s: value is not the original bytes", key)
		}
		if r, _ := header(m, HeaderReason); r != want.reason {
			t.Errorf("quarantine %s: reason %q, want %q", key, r, want.reason)
		}
		if d, _ := header(m, HeaderDetail); d == "" || !strings.HasPrefix(d, want.reason+": ") {
			t.Errorf("quarantine %s: detail %q", key, d)
		}
		e := entryOf[key]
		if s, _ := header(m, HeaderSource); s != ingress+"/"+itoa(int(e.Partition))+"/"+itoa(int(e.Offset)) {
			t.Errorf("quarantine %s: source %q", key, s)
		}
		kept := map[string]string{}
		for _, h := range m.Headers {
			switch h.Key {
			case HeaderReason, HeaderDetail, HeaderSource:
			default:
				kept[h.Key] = string(h.Value)
			}
		}
		if want.headers == nil {
			want.headers = map[string]string{}
		}
		if !reflect.DeepEqual(kept, want.headers) {
			t.Errorf("quarantine %s: other headers %v, want %v", key, kept, want.headers)
		}
		if e.Decision != ledger.Quarantined || !reflect.DeepEqual(e.Reasons, []string{want.reason}) {
			t.Errorf("ledger %s: %s %v, want quarantined %s", key, e.Decision, e.Reasons, want.reason)
		}
	}

	// Skips are audited with their reasons.
	wantSkips := map[string][]ledger.Skip{
		"two":              nil,
		"forged":           nil,
		"filtered":         {{AgreementID: social, Reason: policy.SkipFilter}},
		"stale-for-social": {{AgreementID: social, Reason: policy.SkipStale}},
	}
	for key, skips := range wantSkips {
		e := entryOf[key]
		if e.Decision != ledger.Delivered || !reflect.DeepEqual(e.Skips, skips) {
			t.Errorf("ledger %s: %s skips %+v, want delivered with %+v", key, e.Decision, e.Skips, skips)
		}
		if e.PlanVersion != ex.plan.Version() || e.SchemaID != ex.schemaIDs[imm] || len(e.SubjectHash) == 0 || !e.EventTime.Before(e2eNow) {
			t.Errorf("ledger %s: %+v", key, e)
		}
	}
}

// normalise makes decoded Avro comparable with literal expectations: ints
// as int, nullable unions unwrapped, times in UTC.
func normalise(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case int32:
			m[k] = int(x)
		case int64:
			m[k] = int(x)
		case time.Time:
			m[k] = x.UTC()
		case map[string]any:
			if len(x) == 1 {
				for _, inner := range x {
					m[k] = inner
				}
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTopics: the example plan needs ingress and quarantine topics of its
// four datasets, a delivery topic per agreement and a notices topic per
// agency; EnsureTopics creates them and is idempotent.
func TestTopics(t *testing.T) {
	ex := loadExamples(t)
	got := Topics(ex.plan)
	want := []string{}
	for _, ds := range []string{"civil-registry.births", "health.immunisations", "social-services.benefit-claims", "tax.income-assessments"} {
		want = append(want, names.Ingress(ex.dataset(ds)), names.Quarantine(ex.dataset(ds)))
	}
	for _, a := range [][2]string{
		{"health", "civil-registry-to-health-2026-003"}, {"tax", "civil-registry-to-tax-2026-006"},
		{"social-services", "health-to-social-2026-001"}, {"statistics", "health-to-statistics-2026-002"},
		{"statistics", "social-to-statistics-2026-005"}, {"social-services", "tax-to-social-2026-004"},
	} {
		want = append(want, names.Deliver(a[0], ex.agreement(a[1])))
	}
	for _, agency := range []string{"civil-registry", "health", "social-services", "statistics", "tax"} {
		want = append(want, names.Notices(agency))
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Topics =\n %v\nwant\n %v", got, want)
	}
	if Topics(nil) != nil {
		t.Error("Topics(nil) is not empty")
	}

	k := startKafka(t)
	for i := 0; i < 2; i++ {
		if err := EnsureTopics(t.Context(), k.clients(t), got, 2, 0); err != nil {
			t.Fatalf("EnsureTopics, round %d: %v", i+1, err)
		}
	}
	for _, topic := range got {
		// notices.<agency> names no dataset or agreement of this test, so on
		// a shared Apache Kafka another test may have created it first, with
		// its own partition count (EnsureTopics leaves existing topics as
		// they are): it must exist; the test's own topics have 2 partitions.
		want, what := 2, topic+" with 2 partitions"
		if strings.HasPrefix(topic, names.NoticesPrefix) {
			want, what = 0, topic
		}
		// A real cluster may take a moment to show a new topic everywhere.
		waitFor(t, 30*time.Second, what, func() bool {
			ps, err := k.partitions(t.Context(), topic)
			return err == nil && len(ps) > 0 && (want == 0 || len(ps) == want)
		})
	}
}
