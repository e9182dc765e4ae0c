package agreements_test

import (
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

func ExampleLoad() {
	src := []byte(`kind: Agreement
id: health-to-social-2026-001
provider: health.immunisations
consumer: social-services
purpose: Eligibility assessment for the child benefit
legal_basis: "Social Services Act 2019, s.12(3)"
valid_from: 2026-01-01T00:00:00Z
valid_until: 2027-01-01T00:00:00Z
fields:
  citizen_id: pseudonymize
  postcode: {truncate: 2}
  phone: {mask: {keep_lst: 2}}
`)
	set, err := agreements.Load("health-to-social.yaml", src)
	fmt.Println(err)
	// Validate adds what needs the whole set: here, the contract is missing.
	fmt.Println(agreements.Validate(set))
	// Output:
	// health-to-social.yaml:12:18: unknown key "keep_lst" in mask of field phone (hint: did you mean "keep_last"?)
	// health-to-social.yaml:3:11: agreement health-to-social-2026-001: provider "health.immunisations" is not a dataset with a contract (hint: load the dataset's contract with the agreement)
}

func ExampleAgreement_Transition() {
	a := &agreements.Agreement{
		ID: "a-1", Provider: "health.immunisations", Consumer: "social-services", Status: agreements.StatusProposed,
		ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	day := func(d int) time.Time { return time.Date(2025, 12, d, 9, 0, 0, 0, time.UTC) }
	fmt.Println(a.Transition(agreements.StatusApproved, "ann", day(1), ""))
	_ = a.Approve("health", "ann", day(2))
	_ = a.Approve("social-services", "cat", day(3))
	fmt.Println(a.Transition(agreements.StatusApproved, "cat", day(3), "both approved"))
	fmt.Println(a.Transition(agreements.StatusActive, "ann", day(4), ""))
	fmt.Println(a.Status, len(a.History))
	// Output:
	// lifecycle: agreement a-1: cannot go from proposed to approved: needs approvals by a steward of health and of social-services
	// <nil>
	// lifecycle: agreement a-1: cannot go from approved to active: not valid before 2026-01-01T00:00:00Z
	// approved 1
}

func ExampleDiff() {
	old := &agreements.Agreement{ID: "a-1", Fields: []agreements.FieldRule{
		{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
		{Name: "phone", Transform: agreements.Transform{Kind: agreements.Mask, N: 2}},
	}}
	new := &agreements.Agreement{ID: "a-1", Fields: []agreements.FieldRule{
		{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Keep}},
		{Name: "age", Transform: agreements.Transform{Kind: agreements.Generalize, Bucket: 10}},
	}}
	for _, c := range agreements.Diff(old, new) {
		fmt.Println(c)
	}
	// Output:
	// ~ field citizen_id: pseudonymize → keep (widens)
	// - field phone: was {mask: {keep_last: 2}} (no longer received; narrows)
	// + field age: {generalize: {bucket: 10}} (newly received; widens)
}
