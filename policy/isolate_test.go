package policy

import (
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

const (
	dsTax    = "tax.returns"
	taxAgree = "tax-to-statistics"
)

// withTax adds a second dataset (tax.returns, one field) and an agreement on it.
func withTax(t testing.TB, in Input) Input {
	in.Contracts = append(in.Contracts, agreements.DataContract{
		Dataset: dsTax, Owner: "tax", Subject: "ingress.tax.returns-value",
		Fields: []agreements.FieldClass{{Name: "tin", Class: agreements.Internal}},
	})
	a := immAgreement()
	a.ID, a.Provider, a.Consumer = taxAgree, dsTax, "statistics"
	a.Fields = []agreements.FieldRule{{Name: "tin", Transform: agreements.Transform{Kind: agreements.Keep}}}
	in.Agreements = append(in.Agreements, a)
	return in
}

// withV3 adds version 3 of the immunisations subject, edited from v2.
func withV3(t testing.TB, in Input, edit func([]map[string]any) []map[string]any) Input {
	in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: 13, Subject: subjImm, Version: 3, Avro: v2With(t, edit)})
	return in
}

// TestIsolateSchemaProblems: a version that slipped past the registry's
// guard quarantines its dataset's records (schema:unresolvable, the detail
// naming the problem), and the rest of the plan compiles: the other
// dataset delivers and statuses apply. Without the option, the plan is
// refused as before.
func TestIsolateSchemaProblems(t *testing.T) {
	in := withV3(t, withTax(t, immInput(t)), without("citizen_id"))
	if _, err := Compile(in); err == nil || !strings.Contains(err.Error(), "citizen_id") {
		t.Fatalf("without isolation: %v, want the plan refused naming citizen_id", err)
	}
	p := mustCompile(t, in, IsolateSchemaProblems())
	broken := p.Broken()
	if len(broken) != 1 || broken[0].Dataset != dsImm || broken[0].Subject != subjImm || len(broken[0].Problems) == 0 ||
		!strings.Contains(broken[0].Detail, "citizen_id") {
		t.Fatalf("Broken() = %+v, want health.immunisations with its problems", broken)
	}
	if got := p.Datasets(); len(got) != 2 || got[0] != dsImm {
		t.Fatalf("Datasets() = %v, want both", got)
	}
	if len(p.Agreements(dsImm)) != 0 {
		t.Fatalf("the broken dataset has agreements %+v, want none", p.Agreements(dsImm))
	}
	for _, s := range p.DerivedSubjects() {
		if strings.Contains(s, agreeID) {
			t.Fatalf("derived subjects %v keep the broken dataset's agreement", p.DerivedSubjects())
		}
	}
	for _, id := range []int{idImmV1, idImmV2} {
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: id, Body: immBody(t, nil)}, testNow)
		if !d.Quarantined || len(d.Reasons) != 1 || d.Reasons[0].Code != ReasonSchemaUnresolvable ||
			!strings.Contains(d.Reasons[0].Detail, "dataset health.immunisations is quarantined") || len(d.Outcomes) != 0 {
			t.Fatalf("schema %d: %+v, want quarantined as %s", id, d, ReasonSchemaUnresolvable)
		}
	}
	tax := encodeRec(t, otherSchema(t), map[string]any{"tin": "T-1"})
	if d := p.Evaluate(Record{Dataset: dsTax, SchemaID: idOther, Body: tax}, testNow); d.Quarantined || len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered {
		t.Fatalf("the other dataset: %+v, want delivered", d)
	}

	// A revocation applies to the other dataset meanwhile.
	for i := range in.Agreements {
		if in.Agreements[i].ID == taxAgree {
			in.Agreements[i].Status = agreements.StatusRevoked
		}
	}
	p = mustCompile(t, in, IsolateSchemaProblems())
	if d := p.Evaluate(Record{Dataset: dsTax, SchemaID: idOther, Body: tax}, testNow); len(d.Outcomes) != 1 || d.Outcomes[0].Delivered || d.Outcomes[0].Skip != SkipRevoked {
		t.Fatalf("after the revocation: %+v, want skipped as revoked", d)
	}
}

// TestIsolateNoSchema: a subject without any live version (not yet
// registered, or deleted) is a registry state: the dataset is quarantined.
func TestIsolateNoSchema(t *testing.T) {
	in := withTax(t, immInput(t))
	in.Schemas = in.Schemas[2:] // only tax's
	p := mustCompile(t, in, IsolateSchemaProblems())
	if b := p.Broken(); len(b) != 1 || b[0].Dataset != dsImm || !strings.Contains(b[0].Detail, "has no registered schema") {
		t.Fatalf("Broken() = %+v", b)
	}
	if d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idOther, Body: []byte{0}}, testNow); !d.Quarantined || d.Reasons[0].Code != ReasonSchemaUnresolvable {
		t.Fatalf("%+v", d)
	}
}

// TestIsolateKeepsDocumentProblems: a problem the documents cause (a
// misspelt field: no version of the subject has it) still refuses the plan,
// with isolation too; so does one in a dataset whose newest version is also
// broken.
func TestIsolateKeepsDocumentProblems(t *testing.T) {
	in := withTax(t, immInput(t))
	in.Agreements[0].Fields[3].Name = "regoin"
	if _, err := Compile(in, IsolateSchemaProblems()); err == nil || !strings.Contains(err.Error(), "regoin") {
		t.Fatalf("got %v, want the plan refused naming regoin", err)
	}
	in = withV3(t, in, without("citizen_id"))
	if _, err := Compile(in, IsolateSchemaProblems()); err == nil || !strings.Contains(err.Error(), "regoin") {
		t.Fatalf("with a broken v3 too: %v, want the plan refused naming regoin", err)
	}
}

// TestCheckSchemaOnBrokenDataset: on a quarantined dataset, a version that
// lets the dataset compile again is accepted; one that does not, refused.
func TestCheckSchemaOnBrokenDataset(t *testing.T) {
	p := mustCompile(t, withV3(t, immInput(t), without("citizen_id")), IsolateSchemaProblems())
	if err := p.CheckSchema(subjImm, v2With(t, without("record_id"))); err == nil || !strings.Contains(err.Error(), "would not compile on this version") {
		t.Fatalf("got %v, want refused", err)
	}
	if err := p.CheckSchema(subjImm, mustSchema(t, "testdata/immunisation.v2.avsc")); err != nil {
		t.Fatalf("the fixing version: %v", err)
	}
}
