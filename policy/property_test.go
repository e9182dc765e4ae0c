package policy

import (
	"bytes"
	"math/rand"
	"sort"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
)

// fieldTransforms lists, per fixture field, transforms that fit its type.
var fieldTransforms = map[string][]agreements.Transform{
	"record_id":       {tr(agreements.Keep), tr(agreements.Hash), tr(agreements.Pseudonymize), tr(agreements.Redact), {Kind: agreements.Truncate, N: 3}},
	"citizen_id":      {tr(agreements.Pseudonymize), tr(agreements.Redact), {Kind: agreements.Mask, N: 2}},
	"given_name":      {tr(agreements.Keep), tr(agreements.Redact), {Kind: agreements.Mask, N: 1}},
	"family_name":     {tr(agreements.Keep), {Kind: agreements.Truncate, N: 1}},
	"birth_date":      {tr(agreements.Keep), {Kind: agreements.Generalize, Unit: "year"}, tr(agreements.Redact)},
	"age":             {tr(agreements.Keep), {Kind: agreements.Generalize, Bucket: 5}, tr(agreements.Hash)},
	"sex":             {tr(agreements.Keep), tr(agreements.Redact)},
	"postcode":        {tr(agreements.Keep), {Kind: agreements.Truncate, N: 2}},
	"region":          {tr(agreements.Keep)},
	"phone":           {tr(agreements.Keep), {Kind: agreements.Mask, N: 2}, tr(agreements.Pseudonymize), tr(agreements.Redact)},
	"vaccine_code":    {tr(agreements.Keep), tr(agreements.Hash)},
	"dose_number":     {tr(agreements.Keep), {Kind: agreements.Generalize, Bucket: 2}},
	"administered_at": {tr(agreements.Keep), {Kind: agreements.Generalize, Unit: "day"}},
	"clinic":          {tr(agreements.Keep), tr(agreements.Redact)},
	"weight_kg":       {tr(agreements.Keep), {Kind: agreements.Generalize, Bucket: 10}},
}

// TestMinimisationProperty: for random allow-lists and transforms, the
// delivered record holds exactly the allow-listed fields, in allow-list
// order in the derived schema, and no value of a field outside the list
// (nor the raw citizen id unless kept) appears in the delivered bytes.
func TestMinimisationProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(20261127))
	var names []string
	for n := range fieldTransforms {
		names = append(names, n)
	}
	sort.Strings(names)
	secrets := map[string]string{ // distinctive string values of the fixture
		"record_id": "rec-0001", "citizen_id": "19850412-1234", "given_name": "Åsa", "family_name": "Lindqvist",
		"postcode": "11452", "phone": "+46701234567", "vaccine_code": "J07BX03", "region": "north",
	}
	body := immBody(t, nil)
	for iter := 0; iter < 200; iter++ {
		perm := rng.Perm(len(names))
		k := 1 + rng.Intn(len(names))
		a := immAgreement()
		a.Fields = nil
		allowed := map[string]agreements.Transform{}
		for _, i := range perm[:k] {
			opts := fieldTransforms[names[i]]
			tf := opts[rng.Intn(len(opts))]
			a.Fields = append(a.Fields, agreements.FieldRule{Name: names[i], Transform: tf})
			allowed[names[i]] = tf
		}
		in := immInput(t)
		in.Agreements = []agreements.Agreement{a}
		p := mustCompile(t, in)
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: body}, testNow)
		if d.Quarantined || !d.Outcomes[0].Delivered {
			t.Fatalf("iteration %d: %+v", iter, d)
		}
		info := p.Agreements(dsImm)[0]
		got := decodeDelivered(t, info, d.Outcomes[0].Value)
		if len(got) != len(allowed) {
			t.Fatalf("iteration %d: delivered %v, allowed %v", iter, keys(got), a.Fields)
		}
		for j, f := range info.Schema.(interface{ Fields() []*avroField }).Fields() {
			if f.Name() != a.Fields[j].Name {
				t.Fatalf("iteration %d: derived field %d is %s, want %s", iter, j, f.Name(), a.Fields[j].Name)
			}
		}
		for name, secret := range secrets {
			tf, ok := allowed[name]
			if ok && tf.Kind == agreements.Keep {
				continue
			}
			if bytes.Contains(d.Outcomes[0].Value, []byte(secret)) && !keptElsewhere(allowed, secrets, secret) {
				t.Fatalf("iteration %d: value of %s (%s) leaked into the delivery", iter, name, tf.Kind)
			}
		}
	}
}

// keptElsewhere: the same text may legitimately appear through another
// field that is kept (or a truncation/mask that keeps a prefix/suffix of it).
func keptElsewhere(allowed map[string]agreements.Transform, secrets map[string]string, s string) bool {
	for name, tf := range allowed {
		if secrets[name] == s && tf.Kind == agreements.Keep {
			return true
		}
	}
	return false
}
