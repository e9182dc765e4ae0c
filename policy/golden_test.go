package policy

import (
	"flag"

	"os"
	"path/filepath"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.avsc from the current output")

// TestDerivedSchemasGolden pins the derived schema of every example
// agreement and of the test fixture: allowed fields in allow-list order,
// transformed types, record named after the agreement, doc with purpose and
// legal basis.
func TestDerivedSchemasGolden(t *testing.T) {
	every := immInput(t)
	every.Agreements = append(every.Agreements, everyTransformAgreement())
	plans := []*Plan{mustCompile(t, exampleInput(t)), mustCompile(t, every)}
	n := 0
	for _, p := range plans {
		for _, ds := range p.Datasets() {
			for _, a := range p.Agreements(ds) {
				n++
				path := filepath.Join("testdata", a.ID+".golden.avsc")
				if *update {
					if err := os.WriteFile(path, []byte(a.SchemaJSON), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./policy/ -run Golden -update)", err)
				}
				if string(want) != a.SchemaJSON {
					t.Errorf("derived schema of %s differs from %s:\n%s", a.ID, path, a.SchemaJSON)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no agreements compiled")
	}
}

// everyTransformAgreement uses each transform on the fixture's types,
// including nullable unions and a nested record.
func everyTransformAgreement() agreements.Agreement {
	a := immAgreement()
	a.ID, a.Consumer = "test-every-transform", "statistics"
	a.Fields = []agreements.FieldRule{
		{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
		{Name: "given_name", Transform: agreements.Transform{Kind: agreements.Redact}},
		{Name: "phone", Transform: agreements.Transform{Kind: agreements.Mask, N: 2}},
		{Name: "postcode", Transform: agreements.Transform{Kind: agreements.Truncate, N: 2}},
		{Name: "birth_date", Transform: agreements.Transform{Kind: agreements.Generalize, Unit: "year"}},
		{Name: "weight_kg", Transform: agreements.Transform{Kind: agreements.Generalize, Bucket: 5}},
		{Name: "age", Transform: agreements.Transform{Kind: agreements.Generalize, Bucket: 10}},
		{Name: "vaccine_code", Transform: agreements.Transform{Kind: agreements.Hash}},
		{Name: "sex", Transform: agreements.Transform{Kind: agreements.Keep}},
		{Name: "clinic", Transform: agreements.Transform{Kind: agreements.Keep}},
	}
	return a
}
