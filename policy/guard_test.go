package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

// v2With is immunisation v2 with its top-level fields edited.
func v2With(t testing.TB, edit func(fields []map[string]any) []map[string]any) avroSchema {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(v2JSON(t)), &doc); err != nil {
		t.Fatal(err)
	}
	var fields []map[string]any
	for _, f := range doc["fields"].([]any) {
		fields = append(fields, f.(map[string]any))
	}
	doc["fields"] = edit(fields)
	b, _ := json.Marshal(doc)
	s, err := parseSchema(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func without(name string) func([]map[string]any) []map[string]any {
	return func(fs []map[string]any) []map[string]any {
		var out []map[string]any
		for _, f := range fs {
			if f["name"] != name {
				out = append(out, f)
			}
		}
		return out
	}
}

func retyped(name string, typ any) func([]map[string]any) []map[string]any {
	return func(fs []map[string]any) []map[string]any {
		for _, f := range fs {
			if f["name"] == name {
				f["type"] = typ
			}
		}
		return fs
	}
}

// TestCheckSchema: a version that removes or retypes a field an agreement
// delivers or a rule reads, or on which the dataset would not compile, is
// refused with a *schemas.GuardError naming agreement and field; an
// additive version, and any version of a subject no dataset reads, pass.
func TestCheckSchema(t *testing.T) {
	in := immInput(t)
	a := immAgreement()
	a.Filter = `record.region == "north"`
	in.Agreements = []agreements.Agreement{a}
	p := mustCompile(t, in)
	cases := []struct {
		name       string
		candidate  avroSchema
		agreement  string
		field      string
		wantReason string
	}{
		{"delivered field removed", v2With(t, without("citizen_id")), agreeID, "citizen_id",
			"agreement test-health-to-social delivers field citizen_id, which this version removes"},
		{"delivered field retyped", v2With(t, retyped("citizen_id", "int")), agreeID, "citizen_id",
			"agreement test-health-to-social delivers field citizen_id, which this version changes from string to int"},
		{"filter field promoted", v2With(t, retyped("region", "bytes")), "", "",
			"dataset health.immunisations would not compile on this version: agreement test-health-to-social: filter:"},
		{"delivered field narrowed", v2With(t, retyped("age", "string")), agreeID, "age",
			"agreement test-health-to-social delivers field age, which this version changes from int to string"},
		{"rule field removed", v2With(t, without("dose_number")), "", "dose_number",
			"contract health.immunisations's quality rule dose_positive reads field dose_number, which this version removes"},
		{"event time retyped", v2With(t, retyped("administered_at", "string")), agreeID, "administered_at",
			"agreement test-health-to-social delivers field administered_at, which this version changes from long (timestamp-millis) to string"},
		{"classified field removed", v2With(t, without("given_name")), "", "",
			"dataset health.immunisations would not compile on this version: contract health.immunisations: field given_name is not in the schema"},
		{"not a record", mustParse(t, `"string"`), agreeID, "record_id", "this version is a string, not a record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := p.CheckSchema(subjImm, tc.candidate)
			var ge *schemas.GuardError
			if !errors.As(err, &ge) || !errors.Is(err, schemas.ErrRefused) {
				t.Fatalf("got %v, want a *schemas.GuardError", err)
			}
			if ge.Agreement != tc.agreement || ge.Field != tc.field || !strings.Contains(ge.Reason, tc.wantReason) {
				t.Fatalf("got %+v, want agreement %q field %q reason %q", ge, tc.agreement, tc.field, tc.wantReason)
			}
		})
	}
	added := v2With(t, func(fs []map[string]any) []map[string]any {
		return append(fs, map[string]any{"name": "lot_number", "type": []any{"null", "string"}, "default": nil})
	})
	widened := v2With(t, retyped("dose_number", "long"))
	nullable := v2With(t, retyped("region", []any{"null", "string"}))
	for name, s := range map[string]avroSchema{"optional field added": added, "int widened to long": widened, "made nullable": nullable, "same version": mustSchema(t, "testdata/immunisation.v2.avsc")} {
		if err := p.CheckSchema(subjImm, s); err != nil {
			t.Errorf("%s: %v, want accepted", name, err)
		}
	}
	if err := p.CheckSchema("ingress.tax.returns-value", mustParse(t, `"string"`)); err != nil {
		t.Errorf("a subject without contract: %v", err)
	}
	if err := p.CheckSchema(p.DerivedSubjects()[0], mustParse(t, `"string"`)); err != nil {
		t.Errorf("a derived subject: %v", err)
	}
}

func mustParse(t testing.TB, s string) avroSchema {
	t.Helper()
	sc, err := parseSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}
