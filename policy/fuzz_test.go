package policy

import (
	"testing"
)

// FuzzEvaluate feeds arbitrary bodies (and schema ids) to Evaluate: it must
// never panic, and a decision is either a quarantine with reasons or
// outcomes for the dataset's agreements.
func FuzzEvaluate(f *testing.F) {
	in := immInput(f)
	in.Agreements = append(in.Agreements, everyTransformAgreement())
	in.Contracts[0].Quality = append(in.Contracts[0].Quality, qualityRuleOnNested())
	p := mustCompile(f, in)
	good := immBody(f, nil)
	f.Add(idImmV2, good)
	f.Add(idImmV2, immBody(f, func(m map[string]any) { m["phone"] = nil }))
	f.Add(idImmV1, good[:len(good)-8])
	f.Add(idImmV2, []byte{})
	f.Add(idImmV2, []byte{0xfe, 0xff, 0xff, 0xff, 0x0f})
	f.Add(999, good)
	f.Fuzz(func(t *testing.T, id int, body []byte) {
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: id, Body: body}, testNow)
		if d.Quarantined {
			if len(d.Reasons) == 0 || len(d.Outcomes) != 0 {
				t.Fatalf("inconsistent quarantine: %+v", d)
			}
			return
		}
		if len(d.Outcomes) != 2 {
			t.Fatalf("want 2 outcomes, got %+v", d.Outcomes)
		}
		for _, o := range d.Outcomes {
			if o.Delivered && (len(o.Value) < 5 || o.Value[0] != 0) {
				t.Fatalf("bad delivered frame % x", o.Value)
			}
		}
	})
}

// FuzzCompileRules: arbitrary rule and filter text never panics Compile or
// Check, and a plan that compiles never panics Evaluate.
func FuzzCompileRules(f *testing.F) {
	f.Add("record.age >= 0 && record.age < 130", "record.region in ['north', 'east']")
	f.Add("record.phone.size() > 3", "record.clinic.lat > 1.0")
	f.Add("record.administered_at < timestamp('2030-01-01T00:00:00Z')", "record.sex == 'F'")
	f.Add("[1,2,3].all(x, x > 0)", "record.nope")
	f.Add("record.age / 0 == 1", "int(record.postcode) > 3")
	f.Add("record", "(")
	body := immBody(f, nil)
	f.Fuzz(func(t *testing.T, rule, filter string) {
		in := immInput(t)
		in.Contracts[0].Quality[0].Rule = rule
		in.Agreements[0].Filter = filter
		_ = Check(in)
		p, err := Compile(in)
		if err != nil {
			return
		}
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: body}, testNow)
		if !d.Quarantined && len(d.Outcomes) != 1 {
			t.Fatalf("decision %+v", d)
		}
	})
}
