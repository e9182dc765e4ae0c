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
