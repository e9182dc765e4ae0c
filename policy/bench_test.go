package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

// benchInput is the benchmark: the reference record (15 fields), two
// quality rules, freshness and one agreement (projection, one pseudonymised
// field, one generalised date).
func benchInput(b *testing.B) Input { return immInput(b) }

func runEvaluateBench(b *testing.B, in Input) {
	p := mustCompile(b, in)
	rec := Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(b, nil)}
	if d := p.Evaluate(rec, testNow); d.Quarantined || !d.Outcomes[0].Delivered {
		b.Fatalf("benchmark record not delivered: %+v", d)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := p.Evaluate(rec, testNow)
		if !d.Outcomes[0].Delivered {
			b.Fatal("not delivered")
		}
	}
}

// BenchmarkEvaluate: decode + rules + freshness + project/transform/encode,
// with a fresh Decision per record.
func BenchmarkEvaluate(b *testing.B) { runEvaluateBench(b, benchInput(b)) }

// BenchmarkEvaluateInto reuses the Decision and its buffers.
func BenchmarkEvaluateInto(b *testing.B) {
	p := mustCompile(b, benchInput(b))
	rec := Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(b, nil)}
	var d Decision
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.EvaluateInto(rec, testNow, &d)
		if !d.Outcomes[0].Delivered {
			b.Fatal("not delivered")
		}
	}
}

// BenchmarkEvaluate1000Agreements: the same record with 1,000 agreements on
// other datasets in the plan.
func BenchmarkEvaluate1000Agreements(b *testing.B) {
	in := benchInput(b)
	for i := 0; i < 1000; i++ {
		ds := fmt.Sprintf("health.copy%03d", i%50)
		if i < 50 {
			ct := immContract()
			ct.Dataset = ds
			in.Contracts = append(in.Contracts, ct)
		}
		a := immAgreement()
		a.ID = fmt.Sprintf("health-copy-%04d", i)
		a.Provider = ds
		a.ValidUntil = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		a.Fields = append(a.Fields, agreements.FieldRule{Name: "postcode", Transform: agreements.Transform{Kind: agreements.Truncate, N: 2}})
		in.Agreements = append(in.Agreements, a)
	}
	runEvaluateBench(b, in)
}
