package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

// A quality detail quotes the rule's expression and the contract's
// description of it; never the value that failed it.
func TestQualityDetailNamesExpressionAndDescription(t *testing.T) {
	in := immInput(t)
	in.Contracts[0].Quality[0].Description = "An age outside 0–129 is a data-entry error at the clinic."
	in.Contracts[0].Quality = append(in.Contracts[0].Quality, agreements.QualityRule{
		Name: "phone_long", Rule: "record.phone.size() > 5", Severity: agreements.SeverityError,
		Description: strings.Repeat("long description ", 100),
	})
	p := mustCompile(t, in)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) {
		m["age"] = 4711
		m["phone"] = nil
	})}, testNow)
	if len(d.Reasons) != 2 {
		t.Fatalf("reasons = %+v, want age_in_range and phone_long", d.Reasons)
	}
	want := "rule age_in_range (record.age >= 0 && record.age < 130) is false: An age outside 0–129 is a data-entry error at the clinic."
	if got := d.Reasons[0].Detail; got != want {
		t.Errorf("detail = %q\nwant     %q", got, want)
	}
	long := d.Reasons[1].Detail
	if !strings.HasPrefix(long, "rule phone_long (record.phone.size() > 5) could not be evaluated") || !strings.HasSuffix(long, "…") {
		t.Errorf("evaluation error detail = %q", long)
	}
	if len(long) > 600 {
		t.Errorf("detail of %d bytes: the description is not bounded", len(long))
	}
	for _, r := range d.Reasons {
		if strings.Contains(r.Detail, "4711") {
			t.Errorf("detail %q holds the field value", r.Detail)
		}
	}
}

// A freshness detail names the event time, the bound and the lag.
func TestFreshnessDetail(t *testing.T) {
	p := mustCompile(t, immInput(t))
	at := testNow.Add(-time.Hour)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = at })}, testNow)
	want := "event time 2026-06-15T11:00:00Z is 1h0m0s old, over the max age 15m0s by 45m0s"
	if len(d.Reasons) != 1 || d.Reasons[0].Detail != want {
		t.Errorf("reasons = %+v, want detail %q", d.Reasons, want)
	}
	d = p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = testNow.Add(10 * time.Minute) })}, testNow)
	if len(d.Reasons) != 1 || !strings.HasPrefix(d.Reasons[0].Detail, "event time 2026-06-15T12:10:00Z is 10m0s ahead") {
		t.Errorf("future detail = %+v", d.Reasons)
	}
}
