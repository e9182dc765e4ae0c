package policy

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

// The benchmark: the reference record of deploy/examples
// (ingress.health.immunisations-value, 15 fields: strings, ints, a
// timestamp-millis, an enum, a nullable union, a nested record), the
// example contract (2 quality rules, freshness) and one agreement
// (projection, one pseudonymised field, one generalised date).
//
//	go test -run '^$' -bench Evaluate -benchmem -count 5 ./policy/

const benchDataset = "health.immunisations"

func benchAgreement() agreements.Agreement {
	return agreements.Agreement{
		ID: "bench-health-to-social", Provider: benchDataset, Consumer: "social-services",
		Purpose: "Benchmark", LegalBasis: "none", Status: agreements.StatusActive,
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Fields: []agreements.FieldRule{
			{Name: "record_id", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
			{Name: "administered_at", Transform: agreements.Transform{Kind: agreements.Generalize, Unit: "month"}},
			{Name: "region", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "vaccine", Transform: agreements.Transform{Kind: agreements.Keep}},
			{Name: "dose_number", Transform: agreements.Transform{Kind: agreements.Keep}},
		},
	}
}

// benchInput is the example contract of health.immunisations (and its
// schema) with only the benchmark agreement.
func benchInput(b *testing.B) Input {
	ex := exampleInput(b)
	in := ex
	in.Contracts, in.Agreements = nil, []agreements.Agreement{benchAgreement()}
	for _, c := range ex.Contracts {
		if c.Dataset == benchDataset {
			in.Contracts = append(in.Contracts, c)
		}
	}
	if len(in.Contracts) != 1 || len(in.Contracts[0].Quality) != 2 || in.Contracts[0].Freshness == nil {
		b.Fatalf("example contract of %s is not the benchmark's (2 rules, freshness)", benchDataset)
	}
	return in
}

// benchRecord is the first example record, its body and a "now" one minute
// after its event time.
func benchRecord(b *testing.B, in Input) (Record, time.Time) {
	schema := mustSchema(b, filepath.Join(examplesDir, "ingress.health.immunisations-value.avsc"))
	m := exampleRecords(b, schema, benchDataset)[0]
	rec := Record{Dataset: benchDataset, SchemaID: exampleSchemaID(in, "ingress.health.immunisations-value"), Body: encodeRec(b, schema, m)}
	return rec, m["administered_at"].(time.Time).Add(time.Minute)
}

func runEvaluateBench(b *testing.B, in Input, into bool) {
	p := mustCompile(b, in)
	rec, now := benchRecord(b, in)
	d := p.Evaluate(rec, now)
	if d.Quarantined || len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered {
		b.Fatalf("benchmark record not delivered: %+v", d)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rec.Body)))
	b.ResetTimer()
	if into {
		for i := 0; i < b.N; i++ {
			p.EvaluateInto(rec, now, &d)
			if !d.Outcomes[0].Delivered {
				b.Fatal("not delivered")
			}
		}
		return
	}
	for i := 0; i < b.N; i++ {
		d := p.Evaluate(rec, now)
		if !d.Outcomes[0].Delivered {
			b.Fatal("not delivered")
		}
	}
}

// BenchmarkEvaluate: decode + rules + freshness + project/transform/encode,
// with a fresh Decision (and delivered buffer) per record.
func BenchmarkEvaluate(b *testing.B) { runEvaluateBench(b, benchInput(b), false) }

// BenchmarkEvaluateInto reuses the Decision and its buffers, as the runtime does.
func BenchmarkEvaluateInto(b *testing.B) { runEvaluateBench(b, benchInput(b), true) }

// BenchmarkEvaluate1000Agreements: the same record with 1,000 agreements on
// 50 other datasets present in the plan.
func BenchmarkEvaluate1000Agreements(b *testing.B) {
	in := benchInput(b)
	base := in.Contracts[0]
	for i := 0; i < 1000; i++ {
		ds := fmt.Sprintf("health.copy%03d", i%50)
		if i < 50 {
			ct := base
			ct.Dataset = ds
			in.Contracts = append(in.Contracts, ct)
		}
		a := benchAgreement()
		a.ID, a.Provider = fmt.Sprintf("health-copy-%04d", i), ds
		a.Fields = append(a.Fields, agreements.FieldRule{Name: "postcode", Transform: agreements.Transform{Kind: agreements.Truncate, N: 2}})
		in.Agreements = append(in.Agreements, a)
	}
	runEvaluateBench(b, in, false)
}

// BenchmarkEvaluateExampleAgreement: the example agreement
// health-to-social-2026-001 as written (row filter, stricter max age,
// pseudonym, generalised date, truncate, mask).
func BenchmarkEvaluateExampleAgreement(b *testing.B) {
	in := benchInput(b)
	ex := exampleInput(b)
	in.Agreements = nil
	for _, a := range ex.Agreements {
		if a.ID == "health-to-social-2026-001" {
			in.Agreements = append(in.Agreements, a)
		}
	}
	runEvaluateBench(b, in, false)
}

// BenchmarkCompile1000Agreements: the cost of a plan reload with 51
// datasets and 1,001 agreements.
func BenchmarkCompile1000Agreements(b *testing.B) {
	in := benchInput(b)
	base := in.Contracts[0]
	for i := 0; i < 1000; i++ {
		ds := fmt.Sprintf("health.copy%03d", i%50)
		if i < 50 {
			ct := base
			ct.Dataset = ds
			in.Contracts = append(in.Contracts, ct)
		}
		a := benchAgreement()
		a.ID, a.Provider = fmt.Sprintf("health-copy-%04d", i), ds
		in.Agreements = append(in.Agreements, a)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(in); err != nil {
			b.Fatal(err)
		}
	}
}
