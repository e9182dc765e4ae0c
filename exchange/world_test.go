package exchange

import (
	"fmt"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// A small compiled world for the Kafka mechanics tests (crash, groups, fail
// closed, reload): datasets of people records, each with a quality rule
// n >= 0, and agreements keeping a few fields. The end-to-end suite uses the
// example contracts of deploy/examples instead.

const personSchema = `{"type":"record","name":"Person","namespace":"test","fields":[
 {"name":"id","type":"string"},
 {"name":"n","type":"long"},
 {"name":"region","type":"string"}]}`

// personSchemaID is the registry id of the i-th dataset's schema.
func personSchemaID(i int) int { return 7 + i }

type testAgreement struct {
	id, consumer, dataset string
	fields                []string
	status                agreements.Status // default active
}

// compileWorld compiles datasets (schema id personSchemaID(i) each) and
// agreements into a plan labelled version.
func compileWorld(t testing.TB, version string, datasets []string, ags []testAgreement) *policy.Plan {
	t.Helper()
	return compileWorldWith(t, version, datasets, ags, nil)
}

// compileWorldWith is compileWorld with edit applied to the input before
// compiling (nil: none).
func compileWorldWith(t testing.TB, version string, datasets []string, ags []testAgreement, edit func(*policy.Input)) *policy.Plan {
	t.Helper()
	s := mustPersonSchema(t)
	in := policy.Input{Version: version, PseudonymKey: func(string) []byte { return []byte("k") }}
	for i, ds := range datasets {
		subject := names.Ingress(ds) + "-value"
		in.Schemas = append(in.Schemas, schemas.SchemaVersion{ID: personSchemaID(i), Subject: subject, Version: 1, Avro: s})
		in.Contracts = append(in.Contracts, agreements.DataContract{
			Dataset: ds, Owner: "provider", Subject: subject,
			Fields: []agreements.FieldClass{
				{Name: "id", Class: agreements.Internal}, {Name: "n", Class: agreements.Public}, {Name: "region", Class: agreements.Public},
			},
			Quality: []agreements.QualityRule{{Name: "n_nonneg", Rule: "record.n >= 0", Severity: agreements.SeverityError}},
		})
	}
	for _, a := range ags {
		ag := agreements.Agreement{
			ID: a.id, Provider: a.dataset, Consumer: a.consumer, Purpose: "test", LegalBasis: "test",
			ValidFrom:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			ValidUntil: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
			Status:     agreements.StatusActive,
		}
		if a.status != "" {
			ag.Status = a.status
		}
		for _, f := range a.fields {
			ag.Fields = append(ag.Fields, agreements.FieldRule{Name: f, Transform: agreements.Transform{Kind: agreements.Keep}})
		}
		in.Agreements = append(in.Agreements, ag)
	}
	if edit != nil {
		edit(&in)
	}
	p, err := policy.Compile(in)
	if err != nil {
		t.Fatalf("compiling test plan: %v", err)
	}
	return p
}

func mustPersonSchema(t testing.TB) avro.Schema {
	t.Helper()
	s, err := avro.Parse(personSchema)
	if err != nil {
		t.Fatalf("person schema: %v", err)
	}
	return s
}

type person struct {
	ID     string `avro:"id"`
	N      int64  `avro:"n"`
	Region string `avro:"region"`
}

var personAvro = avro.MustParse(personSchema)

// personValue is a framed person record under schema id.
func personValue(id int, p person) []byte {
	b, err := avro.Marshal(personAvro, p)
	if err != nil {
		panic(fmt.Sprintf("encoding test person: %v", err)) // test data only
	}
	return append(schemas.AppendFrame(nil, id), b...)
}

// framed returns body in the wire format under schema id.
func framed(id int, body string) []byte {
	return append(schemas.AppendFrame(nil, id), body...)
}

// decodeFor decodes a delivered value under the derived schema of agreement
// id in plan, checking the frame's schema id.
func decodeFor(t testing.TB, plan *policy.Plan, dataset, agreementID string, v []byte) map[string]any {
	t.Helper()
	for _, a := range plan.Agreements(dataset) {
		if a.ID != agreementID {
			continue
		}
		id, body, err := schemas.ParseFrame(v)
		if err != nil {
			t.Fatalf("delivered value: %v", err)
		}
		if id != a.SchemaID {
			t.Fatalf("delivered schema id %d, want derived %d", id, a.SchemaID)
		}
		var m map[string]any
		if err := avro.Unmarshal(a.Schema, body, &m); err != nil {
			t.Fatalf("delivered value does not decode under the derived schema: %v", err)
		}
		return m
	}
	t.Fatalf("no agreement %s on %s", agreementID, dataset)
	return nil
}
