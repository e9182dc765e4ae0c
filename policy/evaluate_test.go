package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/schemas"
)

func reasonCodes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestEvaluateDeliversProjectedTransformedRecord(t *testing.T) {
	p := mustCompile(t, immInput(t))
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	if d.Quarantined || len(d.Warnings) != 0 {
		t.Fatalf("unexpected quarantine/warnings: %+v %+v", d.Reasons, d.Warnings)
	}
	if len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered {
		t.Fatalf("outcomes = %+v, want one delivery", d.Outcomes)
	}
	o := d.Outcomes[0]
	if o.AgreementID != agreeID || o.Consumer != consumer || o.Topic != "deliver."+consumer+"."+agreeID {
		t.Errorf("outcome identity = %+v", o)
	}
	info := p.Agreements(dsImm)[0]
	got := decodeDelivered(t, info, o.Value)
	want := map[string]any{
		"record_id":       "rec-0001",
		"citizen_id":      hmacHex(testKey(agreeID), "19850412-1234"),
		"administered_at": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		"region":          "north",
		"age":             41,
		"vaccine_code":    "J07BX03",
	}
	if len(got) != len(want) {
		t.Errorf("delivered fields = %v, want exactly %v", keys(got), keys(want))
	}
	for k, w := range want {
		g := got[k]
		if gt, ok := g.(time.Time); ok {
			g = gt.UTC()
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s = %#v, want %#v", k, g, w)
		}
	}
	if !d.EventTime.Equal(testAdministered) {
		t.Errorf("EventTime = %v, want %v", d.EventTime, testAdministered)
	}
	if want := SubjectHash([]byte("subject-key"), "19850412-1234"); !reflect.DeepEqual(d.SubjectHash, want) {
		t.Errorf("SubjectHash = %x, want %x", d.SubjectHash, want)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPseudonymsUnlinkableAcrossAgreements(t *testing.T) {
	in := immInput(t)
	b := immAgreement()
	b.ID, b.Consumer = "health-to-statistics-2026-002", "statistics"
	in.Agreements = append(in.Agreements, b)
	p := mustCompile(t, in)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	infos := p.Agreements(dsImm)
	if len(d.Outcomes) != 2 || len(infos) != 2 {
		t.Fatalf("want two outcomes, got %+v", d.Outcomes)
	}
	p0 := decodeDelivered(t, infos[0], d.Outcomes[0].Value)["citizen_id"]
	p1 := decodeDelivered(t, infos[1], d.Outcomes[1].Value)["citizen_id"]
	if p0 == p1 {
		t.Errorf("same pseudonym %v under two agreements", p0)
	}
	// Stable: the same record gives the same pseudonym again.
	d2 := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	if again := decodeDelivered(t, infos[0], d2.Outcomes[0].Value)["citizen_id"]; again != p0 {
		t.Errorf("pseudonym not stable: %v then %v", p0, again)
	}
}

func TestQualityRuleOutcomes(t *testing.T) {
	cases := []struct {
		name         string
		rules        []agreements.QualityRule
		edit         func(m map[string]any)
		wantReasons  []string
		wantWarnings []string
	}{
		{"error rule passes", nil, nil, nil, nil},
		{"error rule fails", nil, func(m map[string]any) { m["age"] = 140 }, []string{"quality:age_in_range"}, nil},
		{"every failing error rule is listed", nil, func(m map[string]any) { m["age"] = -1; m["dose_number"] = 0 },
			[]string{"quality:age_in_range", "quality:dose_positive"}, nil},
		{"warn rule passes", []agreements.QualityRule{{Name: "has_phone", Rule: "record.phone != null", Severity: agreements.SeverityWarn}},
			nil, nil, nil},
		{"warn rule fails and delivers", []agreements.QualityRule{{Name: "has_phone", Rule: "record.phone != null", Severity: agreements.SeverityWarn}},
			func(m map[string]any) { m["phone"] = nil }, nil, []string{"quality:has_phone"}},
		{"evaluation error fails the rule", []agreements.QualityRule{{Name: "phone_long", Rule: "record.phone.size() > 5", Severity: agreements.SeverityError}},
			func(m map[string]any) { m["phone"] = nil }, []string{"quality:phone_long"}, nil},
		{"nested field rule", []agreements.QualityRule{{Name: "clinic_north", Rule: "record.clinic.lat > 55.0", Severity: agreements.SeverityError}},
			func(m map[string]any) { m["clinic"].(map[string]any)["lat"] = 10.0 }, []string{"quality:clinic_north"}, nil},
		{"timestamp rule", []agreements.QualityRule{{Name: "after_2020", Rule: "record.administered_at > timestamp('2020-01-01T00:00:00Z')", Severity: agreements.SeverityError}},
			nil, nil, nil},
		{"enum rule", []agreements.QualityRule{{Name: "sex_known", Rule: "record.sex != 'U'", Severity: agreements.SeverityError}},
			func(m map[string]any) { m["sex"] = "U" }, []string{"quality:sex_known"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := immInput(t)
			in.Contracts[0].Quality = append(in.Contracts[0].Quality, tc.rules...)
			p := mustCompile(t, in)
			d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, tc.edit)}, testNow)
			if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, tc.wantReasons) {
				t.Errorf("reasons = %v, want %v", got, tc.wantReasons)
			}
			if got := reasonCodes(d.Warnings); !reflect.DeepEqual(got, tc.wantWarnings) {
				t.Errorf("warnings = %v, want %v", got, tc.wantWarnings)
			}
			if d.Quarantined != (len(tc.wantReasons) > 0) {
				t.Errorf("Quarantined = %v", d.Quarantined)
			}
			if d.Quarantined && len(d.Outcomes) != 0 {
				t.Errorf("quarantined decision has outcomes %+v", d.Outcomes)
			}
			if !d.Quarantined && (len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered) {
				t.Errorf("want a delivery, got %+v", d.Outcomes)
			}
			for _, r := range append(d.Reasons, d.Warnings...) {
				if !strings.Contains(r.Detail, strings.TrimPrefix(r.Code, "quality:")) {
					t.Errorf("detail %q does not name the rule", r.Detail)
				}
			}
		})
	}
}

func TestFreshness(t *testing.T) {
	cases := []struct {
		name        string
		at          any
		onStale     agreements.OnStale
		wantReasons []string
		wantWarn    []string
		deliver     bool
	}{
		{"fresh", testNow.Add(-time.Minute), agreements.StaleQuarantine, nil, nil, true},
		{"stale quarantined", testNow.Add(-time.Hour), agreements.StaleQuarantine, []string{ReasonFreshnessStale}, nil, false},
		{"stale delivered flagged", testNow.Add(-time.Hour), agreements.StaleDeliverFlagged, nil, []string{ReasonFreshnessStale}, true},
		{"future beyond skew", testNow.Add(10 * time.Minute), agreements.StaleQuarantine, []string{ReasonFreshnessFuture}, nil, false},
		{"future within skew", testNow.Add(4 * time.Minute), agreements.StaleQuarantine, nil, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := immInput(t)
			in.Contracts[0].Freshness.OnStale = tc.onStale
			p := mustCompile(t, in)
			d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = tc.at })}, testNow)
			if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, tc.wantReasons) {
				t.Errorf("reasons = %v, want %v", got, tc.wantReasons)
			}
			if got := reasonCodes(d.Warnings); !reflect.DeepEqual(got, tc.wantWarn) {
				t.Errorf("warnings = %v, want %v", got, tc.wantWarn)
			}
			if delivered := len(d.Outcomes) == 1 && d.Outcomes[0].Delivered; delivered != tc.deliver {
				t.Errorf("delivered = %v, want %v (%+v)", delivered, tc.deliver, d.Outcomes)
			}
			if !d.EventTime.Equal(tc.at.(time.Time)) {
				t.Errorf("EventTime = %v, want %v (set even when stale)", d.EventTime, tc.at)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		// The event time lives in a nullable field that is null.
		in := immInput(t)
		in.Contracts[0].Freshness.EventTime = "phone" // a string field: RFC 3339 or null
		p := mustCompile(t, in)
		for _, phone := range []any{nil, "not a time"} {
			d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["phone"] = phone })}, testNow)
			if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, []string{ReasonFreshnessMissing}) {
				t.Errorf("phone=%v: reasons = %v, want freshness:missing_event_time", phone, got)
			}
		}
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["phone"] = testNow.Format(time.RFC3339) })}, testNow)
		if d.Quarantined {
			t.Errorf("RFC 3339 event time refused: %+v", d.Reasons)
		}
	})
	t.Run("custom skew", func(t *testing.T) {
		p := mustCompile(t, immInput(t), WithClockSkew(time.Second))
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = testNow.Add(time.Minute) })}, testNow)
		if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, []string{ReasonFreshnessFuture}) {
			t.Errorf("reasons = %v, want freshness:future", got)
		}
	})
}

func TestSkipReasons(t *testing.T) {
	cases := []struct {
		name string
		edit func(a *agreements.Agreement)
		rec  func(m map[string]any)
		now  time.Time
		want string
	}{
		{"delivered", nil, nil, testNow, ""},
		{"filter", func(a *agreements.Agreement) { a.Filter = "record.region in ['south']" }, nil, testNow, SkipFilter},
		{"filter passes", func(a *agreements.Agreement) { a.Filter = "record.region in ['north', 'east']" }, nil, testNow, ""},
		{"filter error skips", func(a *agreements.Agreement) { a.Filter = "record.phone.startsWith('+46')" }, func(m map[string]any) { m["phone"] = nil }, testNow, SkipFilter},
		{"not yet valid", nil, nil, time.Date(2025, 12, 31, 23, 59, 0, 0, time.UTC), SkipNotYetValid},
		{"expired window", nil, nil, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), SkipExpired},
		{"suspended", func(a *agreements.Agreement) { a.Status = agreements.StatusSuspended }, nil, testNow, SkipSuspended},
		{"revoked", func(a *agreements.Agreement) { a.Status = agreements.StatusRevoked }, nil, testNow, SkipRevoked},
		{"expired status", func(a *agreements.Agreement) { a.Status = agreements.StatusExpired }, nil, testNow, SkipExpired},
		{"approved not active", func(a *agreements.Agreement) { a.Status = agreements.StatusApproved }, nil, testNow, SkipNotActive},
		{"stale for the agreement", func(a *agreements.Agreement) { a.MaxAge = calendar.Wall(time.Minute) }, nil, testNow, SkipStale},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := immInput(t)
			if tc.edit != nil {
				tc.edit(&in.Agreements[0])
			}
			p := mustCompile(t, in)
			rec := Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, tc.rec)}
			if tc.now != testNow {
				rec.Body = immBody(t, func(m map[string]any) {
					m["administered_at"] = tc.now.Add(-time.Minute)
					if tc.rec != nil {
						tc.rec(m)
					}
				})
			}
			d := p.Evaluate(rec, tc.now)
			if d.Quarantined || len(d.Outcomes) != 1 {
				t.Fatalf("decision = %+v", d)
			}
			o := d.Outcomes[0]
			if o.Skip != tc.want || o.Delivered != (tc.want == "") {
				t.Errorf("outcome = delivered %v skip %q, want skip %q", o.Delivered, o.Skip, tc.want)
			}
			if !o.Delivered && o.Value != nil {
				t.Errorf("skipped outcome carries a value")
			}
		})
	}
}

func TestDenyByDefault(t *testing.T) {
	in := immInput(t)
	in.Agreements = nil
	p := mustCompile(t, in)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	if d.Quarantined || len(d.Outcomes) != 0 {
		t.Errorf("dataset without agreements: %+v, want no outcomes and no quarantine", d)
	}
}

func TestSchemaAndBodyFailures(t *testing.T) {
	p := mustCompile(t, immInput(t))
	good := immBody(t, nil)
	cases := []struct {
		name string
		rec  Record
		want string
	}{
		{"unknown schema id", Record{Dataset: dsImm, SchemaID: 999, Body: good}, ReasonSchemaUnknownID},
		{"id of another subject", Record{Dataset: dsImm, SchemaID: idOther, Body: good}, ReasonSchemaNotAllowed},
		{"unknown dataset", Record{Dataset: "tax.returns", SchemaID: idOther, Body: good}, ReasonDatasetUnknown},
		{"tombstone", Record{Dataset: dsImm, SchemaID: idImmV2, Body: nil}, ReasonDecodeTombstone},
		{"empty body", Record{Dataset: dsImm, SchemaID: idImmV2, Body: []byte{}}, ReasonDecodeMalformed},
		{"truncated", Record{Dataset: dsImm, SchemaID: idImmV2, Body: good[:len(good)/2]}, ReasonDecodeMalformed},
		{"trailing bytes", Record{Dataset: dsImm, SchemaID: idImmV2, Body: append(append([]byte{}, good...), 0)}, ReasonDecodeMalformed},
		{"huge length prefix", Record{Dataset: dsImm, SchemaID: idImmV2, Body: []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 'a'}}, ReasonDecodeMalformed},
		{"negative length", Record{Dataset: dsImm, SchemaID: idImmV2, Body: []byte{0x01, 'a'}}, ReasonDecodeMalformed},
		{"overlong varint", Record{Dataset: dsImm, SchemaID: idImmV2, Body: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}}, ReasonDecodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.rec, testNow)
			if !d.Quarantined || len(d.Reasons) != 1 || d.Reasons[0].Code != tc.want {
				t.Fatalf("decision = %+v, want quarantine %s", d, tc.want)
			}
			if d.Reasons[0].Detail == "" {
				t.Error("empty detail")
			}
			if len(d.Outcomes) != 0 {
				t.Error("quarantined decision with outcomes")
			}
		})
	}
	if !p.AllowsSchema(dsImm, idImmV1) || !p.AllowsSchema(dsImm, idImmV2) || p.AllowsSchema(dsImm, idOther) || p.AllowsSchema(dsImm, 999) {
		t.Error("AllowsSchema disagrees with the subject's versions")
	}
}

func TestMalformedUnionAndEnumIndexes(t *testing.T) {
	p := mustCompile(t, immInput(t))
	// Rebuild a body with a bad phone union index / sex enum index by editing
	// the encoding of a record whose leading fields are known.
	good := immBody(t, func(m map[string]any) { m["sex"] = "F" })
	// sex is encoded as varint 0 (F) right after age; find it by re-encoding with M.
	other := immBody(t, func(m map[string]any) { m["sex"] = "M" })
	i := 0
	for i < len(good) && good[i] == other[i] {
		i++
	}
	bad := append([]byte{}, good...)
	bad[i] = 0x10 // enum index 8
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: bad}, testNow)
	if !d.Quarantined || d.Reasons[0].Code != ReasonDecodeMalformed || !strings.Contains(d.Reasons[0].Detail, "sex") {
		t.Errorf("bad enum index: %+v, want decode:malformed naming sex", d.Reasons)
	}
}

func TestWriterVersionResolution(t *testing.T) {
	p := mustCompile(t, immInput(t))
	v1 := mustSchema(t, "testdata/immunisation.v1.avsc")
	m := immRecord()
	delete(m, "weight_kg")
	body := encodeRec(t, v1, m)
	in := immInput(t)
	in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "weight_kg", Transform: agreements.Transform{Kind: agreements.Generalize, Bucket: 5}})
	p = mustCompile(t, in)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV1, Body: body}, testNow)
	if d.Quarantined || len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered {
		t.Fatalf("v1 record: %+v", d)
	}
	got := decodeDelivered(t, p.Agreements(dsImm)[0], d.Outcomes[0].Value)
	if got["weight_kg"] != 0.0 || got["record_id"] != "rec-0001" {
		t.Errorf("v1 record resolved to %v, want weight_kg default 0 and record_id kept", got)
	}
	d = p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	if got := decodeDelivered(t, p.Agreements(dsImm)[0], d.Outcomes[0].Value); got["weight_kg"] != 70.0 {
		t.Errorf("v2 weight 71.5 bucketed by 5 = %v, want 70", got["weight_kg"])
	}

	t.Run("unresolvable version", func(t *testing.T) {
		in := immInput(t)
		// Version 3 drops the default of weight_kg and a v1 writer lacks it.
		v3, err := parseSchema(strings.Replace(v2JSON(t), `"default": 0`, `"doc": "no default"`, 1))
		if err != nil {
			t.Fatal(err)
		}
		in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: 13, Subject: subjImm, Version: 3, Avro: v3})
		p := mustCompile(t, in)
		if p.AllowsSchema(dsImm, idImmV1) {
			t.Fatal("v1 should not resolve to v3 (weight_kg has no default)")
		}
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV1, Body: body}, testNow)
		if !d.Quarantined || d.Reasons[0].Code != ReasonSchemaUnresolvable || !strings.Contains(d.Reasons[0].Detail, "weight_kg") {
			t.Errorf("decision = %+v, want schema:unresolvable naming weight_kg", d.Reasons)
		}
		if d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow); d.Quarantined {
			t.Errorf("v2 record under v3 plan quarantined: %+v", d.Reasons)
		}
	})
}

func TestHolderHotSwap(t *testing.T) {
	in := immInput(t)
	a := mustCompile(t, in)
	in.Agreements[0].Status = agreements.StatusSuspended
	in.Version = "test-2"
	b := mustCompile(t, in)
	var h Holder
	if h.Load() != nil {
		t.Fatal("empty holder returned a plan")
	}
	h.Store(a)
	started := h.Load() // a record starts on plan a
	h.Store(b)
	rec := Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}
	if d := started.Evaluate(rec, testNow); !d.Outcomes[0].Delivered {
		t.Errorf("record started on the old plan must finish on it: %+v", d.Outcomes)
	}
	if d := h.Load().Evaluate(rec, testNow); d.Outcomes[0].Skip != SkipSuspended {
		t.Errorf("new plan: %+v, want skip suspended", d.Outcomes)
	}
	if h.Load().Version() != "test-2" || a.Version() != "test-1" {
		t.Error("versions mixed up")
	}
	// Plans are immutable: changing the input after Compile changes nothing.
	in.Agreements[0].Status = agreements.StatusActive
	if d := b.Evaluate(rec, testNow); d.Outcomes[0].Skip != SkipSuspended {
		t.Error("plan changed after its input was edited")
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	p := mustCompile(t, immInput(t))
	body := immBody(t, nil)
	want := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: body}, testNow)
	done := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var d Decision
			for i := 0; i < 200; i++ {
				p.EvaluateInto(Record{Dataset: dsImm, SchemaID: idImmV2, Body: body}, testNow, &d)
				if !reflect.DeepEqual(d.Outcomes[0].Value, want.Outcomes[0].Value) {
					done <- "concurrent evaluation gave a different value"
					return
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}

func TestPlanAccessors(t *testing.T) {
	p := mustCompile(t, immInput(t))
	if got := p.Datasets(); !reflect.DeepEqual(got, []string{dsImm}) {
		t.Errorf("Datasets = %v", got)
	}
	if c, ok := p.Contract(dsImm); !ok || c.Subject != subjImm {
		t.Errorf("Contract = %v %v", c, ok)
	}
	if got := p.DerivedSubjects(); !reflect.DeepEqual(got, []string{"deliver." + consumer + "." + agreeID + "-value"}) {
		t.Errorf("DerivedSubjects = %v", got)
	}
	if a, ok := p.Agreement(agreeID); !ok || a.Topic != "deliver."+consumer+"."+agreeID || a.Schema == nil {
		t.Errorf("Agreement(%s) = %+v, %v", agreeID, a, ok)
	}
	if _, ok := p.Agreement("nope"); ok {
		t.Error("Agreement(nope) found")
	}
	ids, latest := p.SchemaVersions(dsImm)
	if !reflect.DeepEqual(ids, []int{idImmV1, idImmV2}) || latest != idImmV2 {
		t.Errorf("SchemaVersions = %v %d", ids, latest)
	}
}

func TestEveryTransformDelivery(t *testing.T) {
	in := immInput(t)
	in.Agreements = []agreements.Agreement{everyTransformAgreement()}
	p := mustCompile(t, in)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	if d.Quarantined || !d.Outcomes[0].Delivered {
		t.Fatalf("decision %+v", d)
	}
	got := decodeDelivered(t, p.Agreements(dsImm)[0], d.Outcomes[0].Value)
	want := map[string]any{
		"citizen_id":   hmacHex(testKey("test-every-transform"), "19850412-1234"),
		"given_name":   nil,
		"phone":        "**********67",
		"postcode":     "11",
		"birth_date":   time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC),
		"weight_kg":    70.0,
		"age":          40,
		"vaccine_code": sha256Hex("J07BX03"),
		"sex":          "F",
		"clinic":       map[string]any{"clinic_id": "CL-17", "name": "Norrmalm vårdcentral", "lat": 59.335, "lon": 18.063},
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", keys(got), keys(want))
	}
	for k, w := range want {
		g := got[k]
		if gt, ok := g.(time.Time); ok {
			g = gt.UTC()
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
}

// TestHostileBodies: length prefixes and block counts beyond the body are
// refused before any allocation; recursive schemas are refused at compile.
func TestHostileBodies(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		body []byte
	}{
		{"array", []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02}},                         // 2^31-1 items, one byte left
		{"array", []byte{0x01}},                                                       // negative count without its block size
		{"array", []byte{0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}}, // MinInt64 count
		{"map", []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 'k', 0x00}},
		{"map", []byte{0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f}}, // key length beyond the body
		{"bytes", []byte{0xfe, 0xff, 0xff, 0xff, 0x0f}},
		{"string", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}}, // 11-byte varint
		{"fixed", []byte{1, 2}},
		{"boolean", []byte{2}},
		{"int", []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0x01}}, // beyond 32 bits
		{"nullable-string", []byte{0x04}},                   // union index 2 of 2
		{"enum", []byte{0x04}},                              // symbol 2 of 2
		{"string", []byte{0x04, 0xff, 0xfe}},                // not UTF-8
		{"nullable-string", []byte{0x02, 0x04, 0xc3, 0x28}}, // not UTF-8 (a cut-off two-byte sequence)
	} {
		in := oneFieldInput(t, tc.typ, tr(agreements.Keep), agreements.Public)
		p := mustCompile(t, in)
		d := p.Evaluate(Record{Dataset: "test.one", SchemaID: 1, Body: tc.body}, testNow)
		if !d.Quarantined || d.Reasons[0].Code != ReasonDecodeMalformed || !strings.Contains(d.Reasons[0].Detail, "field f") {
			t.Errorf("%s % x: %+v, want decode:malformed naming field f", tc.typ, tc.body, d.Reasons)
		}
	}

	rec, err := parseSchema(`{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	in := oneFieldInput(t, "string", tr(agreements.Keep), agreements.Public)
	in.Schemas[0].Avro = rec
	in.Contracts[0].Fields[0].Name = "next"
	in.Agreements[0].Fields[0].Name = "next"
	probs := Check(in)
	if len(probs) == 0 || !strings.Contains(probs.Error(), "recursive schemas are not accepted") {
		t.Errorf("recursive schema: %v, want a nesting problem", probs)
	}
}

func TestContractCopyIsImmutable(t *testing.T) {
	in := immInput(t)
	p := mustCompile(t, in)
	in.Contracts[0].Quality[0].Rule = "changed"
	c, _ := p.Contract(dsImm)
	if c.Quality[0].Rule == "changed" {
		t.Error("plan's contract aliases the input")
	}
	c.Quality[0].Rule = "changed again"
	if c2, _ := p.Contract(dsImm); c2.Quality[0].Rule != immContract().Quality[0].Rule {
		t.Error("Contract() hands out the plan's own slices")
	}
}

// An older writer with an enum symbol the reader lacks: records using other
// symbols are accepted; a record using it is schema:unresolvable.
func TestEnumSymbolResolution(t *testing.T) {
	old, err := parseSchema(strings.Replace(v2JSON(t), `"symbols": ["F", "M", "X", "U"]`, `"symbols": ["F", "M", "X", "U", "Z"]`, 1))
	if err != nil {
		t.Fatal(err)
	}
	in := immInput(t)
	in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "sex", Transform: tr(agreements.Keep)})
	in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: 10, Subject: subjImm, Version: 0, Avro: old})
	p := mustCompile(t, in)
	enc := func(sex string) []byte {
		m := immRecord()
		m["sex"] = sex
		return encodeRec(t, old, m)
	}
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: 10, Body: enc("M")}, testNow)
	if d.Quarantined || decodeDelivered(t, p.Agreements(dsImm)[0], d.Outcomes[0].Value)["sex"] != "M" {
		t.Errorf("symbol M: %+v", d)
	}
	d = p.Evaluate(Record{Dataset: dsImm, SchemaID: 10, Body: enc("Z")}, testNow)
	if !d.Quarantined || d.Reasons[0].Code != ReasonSchemaUnresolvable || !strings.Contains(d.Reasons[0].Detail, "sex") {
		t.Errorf("symbol Z: %+v, want schema:unresolvable naming sex", d.Reasons)
	}
}

// An older writer whose nested record has an extra field: the nested value
// is resolved (the extra field dropped) and re-encoded under the plan's type.
func TestNestedRecordResolution(t *testing.T) {
	old, err := parseSchema(strings.Replace(v2JSON(t), `{"name": "lon", "type": "double"}`, `{"name": "lon", "type": "double"}, {"name": "phone", "type": ["null", "string"]}`, 1))
	if err != nil {
		t.Fatal(err)
	}
	in := immInput(t)
	in.Contracts[0].Quality = append(in.Contracts[0].Quality, agreements.QualityRule{Name: "clinic_lat", Rule: "record.clinic.lat > 50.0", Severity: agreements.SeverityError})
	in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "clinic", Transform: tr(agreements.Keep)})
	in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: 10, Subject: subjImm, Version: 0, Avro: old})
	p := mustCompile(t, in)
	m := immRecord()
	m["clinic"].(map[string]any)["phone"] = "+4681234"
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: 10, Body: encodeRec(t, old, m)}, testNow)
	if d.Quarantined || !d.Outcomes[0].Delivered {
		t.Fatalf("decision %+v", d)
	}
	got := decodeDelivered(t, p.Agreements(dsImm)[0], d.Outcomes[0].Value)["clinic"]
	want := map[string]any{"clinic_id": "CL-17", "name": "Norrmalm vårdcentral", "lat": 59.335, "lon": 18.063}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clinic = %#v, want %#v", got, want)
	}
	m["clinic"].(map[string]any)["lat"] = 10.0
	d = p.Evaluate(Record{Dataset: dsImm, SchemaID: 10, Body: encodeRec(t, old, m)}, testNow)
	if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, []string{"quality:clinic_lat"}) {
		t.Errorf("rule over a resolved nested record: %v", got)
	}
}

// TestHolderSwapWhileEvaluating: plans swap while goroutines evaluate; each
// record is decided wholly by one plan (delivered under A, suspended under B).
func TestHolderSwapWhileEvaluating(t *testing.T) {
	in := immInput(t)
	a := mustCompile(t, in)
	in.Agreements[0].Status = agreements.StatusSuspended
	b := mustCompile(t, in)
	var h Holder
	h.Store(a)
	body := immBody(t, nil)
	errs := make(chan string, 4)
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			var d Decision
			for i := 0; ; i++ {
				select {
				case <-stop:
					errs <- ""
					return
				default:
				}
				p := h.Load()
				p.EvaluateInto(Record{Dataset: dsImm, SchemaID: idImmV2, Body: body}, testNow, &d)
				o := d.Outcomes[0]
				if (p == a) != o.Delivered || (p == b) != (o.Skip == SkipSuspended) {
					errs <- "decision mixes plans"
					return
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			h.Store(b)
		} else {
			h.Store(a)
		}
	}
	close(stop)
	for g := 0; g < 4; g++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// TestBuffersDoNotOverlap: after a small record sets the size hints, a
// larger record outgrows them; every value and the subject hash stay intact.
func TestBuffersDoNotOverlap(t *testing.T) {
	in := immInput(t)
	b := immAgreement()
	b.ID, b.Consumer = "test-second", "statistics"
	b.Fields = append(b.Fields, agreements.FieldRule{Name: "family_name", Transform: tr(agreements.Keep)})
	in.Agreements = append(in.Agreements, b)
	p := mustCompile(t, in)
	short := immBody(t, func(m map[string]any) { m["record_id"] = "r"; m["family_name"] = "L" })
	long := strings.Repeat("Lindqvist-", 50)
	body := immBody(t, func(m map[string]any) { m["record_id"] = strings.Repeat("x", 300); m["family_name"] = long })
	for _, into := range []bool{false, true} {
		var d Decision
		for _, bd := range [][]byte{short, body} {
			if into {
				p.EvaluateInto(Record{Dataset: dsImm, SchemaID: idImmV2, Body: bd}, testNow, &d)
			} else {
				d = p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: bd}, testNow)
			}
		}
		infos := p.Agreements(dsImm)
		first := decodeDelivered(t, infos[0], d.Outcomes[0].Value)
		second := decodeDelivered(t, infos[1], d.Outcomes[1].Value)
		if first["record_id"] != strings.Repeat("x", 300) || second["family_name"] != long || second["record_id"] != strings.Repeat("x", 300) {
			t.Errorf("into=%v: values corrupted: %v / %v", into, first["record_id"], second["family_name"])
		}
		if want := SubjectHash([]byte("subject-key"), "19850412-1234"); !reflect.DeepEqual(d.SubjectHash, want) {
			t.Errorf("into=%v: subject hash corrupted", into)
		}
	}
}
