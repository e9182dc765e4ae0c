package policy_test

import (
	"fmt"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// Evaluating one record against an agreement: the consumer receives the
// allowed fields only, the citizen id as a per-agreement pseudonym and the
// date generalised to the month.
func Example() {
	schema := avro.MustParse(`{"type":"record","name":"Dose","namespace":"example","fields":[
		{"name":"citizen_id","type":"string"},
		{"name":"region","type":"string"},
		{"name":"phone","type":["null","string"],"default":null},
		{"name":"administered_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`)
	plan, err := policy.Compile(policy.Input{
		Contracts: []agreements.DataContract{{
			Dataset: "health.doses", Owner: "health", Subject: "ingress.health.doses-value",
			Fields: []agreements.FieldClass{
				{Name: "citizen_id", Class: agreements.Sensitive},
				{Name: "region", Class: agreements.Public},
				{Name: "phone", Class: agreements.Personal},
				{Name: "administered_at", Class: agreements.Personal},
			},
			Quality: []agreements.QualityRule{{Name: "region_set", Rule: "record.region != ''", Severity: agreements.SeverityError}},
		}},
		Agreements: []agreements.Agreement{{
			ID: "health-to-social-001", Provider: "health.doses", Consumer: "social-services",
			Purpose: "Child benefit eligibility", LegalBasis: "Social Services Act 2019, s.12(3)",
			Status: agreements.StatusActive,
			Fields: []agreements.FieldRule{
				{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
				{Name: "administered_at", Transform: agreements.Transform{Kind: agreements.Generalize, Unit: "month"}},
				{Name: "region", Transform: agreements.Transform{Kind: agreements.Keep}},
			},
			Filter: "record.region in ['north', 'east']",
		}},
		Schemas:      []schemas.SchemaVersion{{ID: 7, Subject: "ingress.health.doses-value", Version: 1, Avro: schema}},
		PseudonymKey: func(id string) []byte { return []byte("secret key of " + id) },
	})
	if err != nil {
		fmt.Println(err) // every problem, with file:line:col
		return
	}
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	body, _ := avro.Marshal(schema, map[string]any{
		"citizen_id": "19850412-1234", "region": "north", "phone": "+46701234567", "administered_at": now.Add(-time.Minute),
	})
	d := plan.Evaluate(policy.Record{Dataset: "health.doses", SchemaID: 7, Body: body}, now)
	for _, o := range d.Outcomes {
		fmt.Println(o.Topic, "delivered:", o.Delivered)
		derived := plan.Agreements("health.doses")[0].Schema
		var out map[string]any
		_ = avro.Unmarshal(derived, o.Value[5:], &out) // skip the wire header
		fmt.Println("fields:", len(out), "region:", out["region"], "month:", out["administered_at"].(time.Time).UTC().Format("2006-01-02"))
		fmt.Println("pseudonym length:", len(out["citizen_id"].(string)))
	}
	// Output:
	// deliver.social-services.health-to-social-001 delivered: true
	// fields: 3 region: north month: 2026-03-01
	// pseudonym length: 64
}
