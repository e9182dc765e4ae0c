package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/schemas"
)

func at(line int) agreements.Pos { return agreements.Pos{File: "policy.yaml", Line: line, Column: 3} }

// TestCheckMessages: each schema-dependent validation message, positioned
// and with a hint.
func TestCheckMessages(t *testing.T) {
	cases := []struct {
		name string
		edit func(in *Input)
		want string // substring of the message
		pos  agreements.Pos
	}{
		{"contract field not in schema", func(in *Input) {
			in.Contracts[0].Fields = append(in.Contracts[0].Fields, agreements.FieldClass{Name: "shoe_size", Class: agreements.Public, Pos: at(7)})
		}, "field shoe_size is not in the schema", at(7)},
		{"agreement field not in schema", func(in *Input) {
			in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "shoe_size", Transform: tr(agreements.Keep), Pos: at(8)})
		}, "agreement " + agreeID + ": field shoe_size is not in the schema", at(8)},
		{"keep of an unclassified field", func(in *Input) {
			in.Contracts[0].Fields = in.Contracts[0].Fields[1:] // record_id unclassified
			in.Agreements[0].Fields[0].Pos = at(9)
		}, "field record_id is not classified by contract health.immunisations, so it is treated as sensitive", at(9)},
		{"transform does not fit the type", func(in *Input) {
			in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "dose_number", Transform: agreements.Transform{Kind: agreements.Truncate, N: 1}, Pos: at(10)})
		}, "field dose_number: truncate does not apply to a field of type int", at(10)},
		{"generalize unit on a string", func(in *Input) {
			in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "postcode", Transform: agreements.Transform{Kind: agreements.Generalize, Unit: "year"}, Pos: at(11)})
		}, "field postcode: generalize: year does not apply to a field of type string", at(11)},
		{"rule reads an unknown field", func(in *Input) {
			in.Contracts[0].Quality[0].Rule, in.Contracts[0].Quality[0].Pos = "record.shoe_size > 3", at(12)
		}, "quality rule age_in_range: undefined field 'shoe_size' (expression line 1, column 7)", at(12)},
		{"rule is not boolean", func(in *Input) {
			in.Contracts[0].Quality[1].Rule, in.Contracts[0].Quality[1].Pos = "record.dose_number + 1", at(13)
		}, "quality rule dose_positive: expression is of type int, not bool", at(13)},
		{"rule compares mismatched types", func(in *Input) {
			in.Contracts[0].Quality[1].Rule, in.Contracts[0].Quality[1].Pos = "record.region > 3", at(14)
		}, "quality rule dose_positive: ", at(14)},
		{"filter does not type-check", func(in *Input) {
			in.Agreements[0].Filter = "record.age == 'old'"
			in.Agreements[0].KeyPos = map[string]agreements.Pos{"filter": at(15)}
		}, "agreement " + agreeID + ": filter: ", at(15)},
		{"event time field missing", func(in *Input) {
			in.Contracts[0].Freshness.EventTime = "recorded_at"
			in.Contracts[0].KeyPos = map[string]agreements.Pos{"freshness.event_time": at(16)}
		}, "freshness event_time field recorded_at is not in the schema", at(16)},
		{"event time field not a timestamp", func(in *Input) {
			in.Contracts[0].Freshness.EventTime = "dose_number"
			in.Contracts[0].Freshness.Pos = at(17)
		}, "freshness event_time field dose_number is of type int, not a timestamp or date", at(17)},
		{"agreement max age not stricter", func(in *Input) {
			in.Agreements[0].MaxAge = calendar.Wall(15 * time.Minute)
			in.Agreements[0].KeyPos = map[string]agreements.Pos{"freshness.max_age": at(18)}
		}, "freshness max_age 15m is not stricter than contract health.immunisations's 15m", at(18)},
		{"data subject field missing", func(in *Input) {
			in.Contracts[0].DataSubject = "person"
			in.Contracts[0].KeyPos = map[string]agreements.Pos{"data_subject": at(19)}
		}, "data_subject field person is not in the schema", at(19)},
		{"data subject field not an identifier", func(in *Input) {
			in.Contracts[0].DataSubject = "clinic"
			in.Contracts[0].KeyPos = map[string]agreements.Pos{"data_subject": at(22)}
		}, "data_subject field clinic is of type record, not an identifier", at(22)},
		{"subject without schema", func(in *Input) {
			in.Contracts[0].Subject, in.Contracts[0].Pos = "ingress.health.nothing-value", at(20)
		}, "subject ingress.health.nothing-value has no registered schema", at(20)},
		{"general union with a non-keep transform", func(in *Input) {
			s, err := parseSchema(strings.Replace(v2JSON(t), `"type": ["null", "string"]`, `"type": ["null", "string", "long"]`, 1))
			if err != nil {
				t.Fatal(err)
			}
			in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: 14, Subject: subjImm, Version: 4, Avro: s})
			in.Agreements[0].Fields = append(in.Agreements[0].Fields, agreements.FieldRule{Name: "phone", Transform: agreements.Transform{Kind: agreements.Mask, N: 2}, Pos: at(21)})
		}, "field phone: mask does not apply to the union", at(21)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := immInput(t)
			tc.edit(&in)
			probs := Check(in)
			if len(probs) != 1 {
				t.Fatalf("want exactly one problem, got %d:\n%v", len(probs), probs)
			}
			p := probs[0]
			if !strings.Contains(p.Message, tc.want) {
				t.Errorf("message %q does not contain %q", p.Message, tc.want)
			}
			if p.Pos != tc.pos {
				t.Errorf("position %+v, want %+v", p.Pos, tc.pos)
			}
			if p.Hint == "" {
				t.Errorf("no hint: %s", p)
			}
			if _, err := Compile(in); err == nil {
				t.Error("Compile accepted what Check refuses")
			}
		})
	}
}

// TestCheckReportsEveryProblem: all problems at once, none hiding another.
func TestCheckReportsEveryProblem(t *testing.T) {
	in := immInput(t)
	in.Contracts[0].Fields = append(in.Contracts[0].Fields, agreements.FieldClass{Name: "shoe_size", Class: agreements.Public})
	in.Contracts[0].Quality[0].Rule = "record.age"
	in.Contracts[0].Freshness.EventTime = "dose_number"
	in.Agreements[0].Fields = append(in.Agreements[0].Fields,
		agreements.FieldRule{Name: "nope", Transform: tr(agreements.Keep)},
		agreements.FieldRule{Name: "age", Transform: agreements.Transform{Kind: agreements.Mask, N: 1}})
	in.Agreements[0].Filter = "record.nope"
	if probs := Check(in); len(probs) != 6 {
		t.Errorf("want 6 problems, got %d:\n%v", len(probs), probs)
	}
}

// TestCheckLeavesModelFindingsToValidate: syntax errors and bad arguments
// are agreements.Validate's (reported once, there); Compile still refuses.
func TestCheckLeavesModelFindingsToValidate(t *testing.T) {
	in := immInput(t)
	in.Contracts[0].Quality[0].Rule = "record.age >= "
	in.Agreements[0].Fields[1].Transform = agreements.Transform{Kind: agreements.Truncate, N: 0}
	in.Agreements[0].Fields[0].Transform = tr(agreements.Keep)
	in.Contracts[0].Fields[0].Class = agreements.Sensitive // record_id kept while sensitive
	if probs := Check(in); len(probs) != 0 {
		t.Errorf("Check repeated model findings: %v", probs)
	}
	_, err := Compile(in)
	probs, _ := err.(agreements.Problems)
	if len(probs) != 3 {
		t.Errorf("Compile: want 3 problems, got %v", err)
	}
}

func TestCompileOnlyProblems(t *testing.T) {
	cases := []struct {
		name string
		edit func(in *Input)
		want string
	}{
		{"no pseudonym key", func(in *Input) { in.PseudonymKey = nil }, "no pseudonym key"},
		{"agreement without contract", func(in *Input) { in.Agreements[0].Provider = "health.nothing" }, "provider dataset health.nothing has no contract"},
		{"duplicate agreement", func(in *Input) { in.Agreements = append(in.Agreements, in.Agreements[0]) }, "defined more than once"},
		{"registry fails", func(in *Input) {
			in.RegisterDerived = func(string, avroSchema) (int, error) { return 0, errRegistryDown }
		}, "registering derived schema deliver.social-services." + agreeID + "-value: registry down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := immInput(t)
			tc.edit(&in)
			_, err := Compile(in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRegisterDerivedOncePerAgreement(t *testing.T) {
	in := immInput(t)
	calls := map[string]int{}
	in.RegisterDerived = func(subject string, s avroSchema) (int, error) {
		calls[subject]++
		if s == nil {
			t.Error("nil schema registered")
		}
		return 4242, nil
	}
	p := mustCompile(t, in)
	subj := "deliver." + consumer + "." + agreeID + "-value"
	if len(calls) != 1 || calls[subj] != 1 {
		t.Errorf("RegisterDerived calls = %v, want one for %s", calls, subj)
	}
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, nil)}, testNow)
	v := d.Outcomes[0].Value
	if id := int(v[1])<<24 | int(v[2])<<16 | int(v[3])<<8 | int(v[4]); id != 4242 {
		t.Errorf("wire id %d, want the registered 4242", id)
	}
}
