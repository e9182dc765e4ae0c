package agreements

import (
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

func baseAgreement() *Agreement {
	return &Agreement{
		ID: "a-1", Provider: "health.immunisations", Consumer: "social-services",
		Purpose: "child benefit", LegalBasis: "Social Services Act 2019, s.12(3)",
		ValidFrom: t0, ValidUntil: tEnd, Status: StatusActive,
		Fields: []FieldRule{
			{Name: "record_id", Transform: Transform{Kind: Keep}},
			{Name: "citizen_id", Transform: Transform{Kind: Pseudonymize}},
			{Name: "postcode", Transform: Transform{Kind: Truncate, N: 2}},
			{Name: "phone", Transform: Transform{Kind: Mask, N: 2}},
			{Name: "administered_at", Transform: Transform{Kind: Generalize, Unit: "month"}},
			{Name: "age", Transform: Transform{Kind: Generalize, Bucket: 10}},
			{Name: "note", Transform: Transform{Kind: Redact}},
		},
		Filter: "record.region == 'north'",
		MaxAge: calendar.Wall(5 * time.Minute),
	}
}

func setField(a *Agreement, name string, t Transform) {
	for i := range a.Fields {
		if a.Fields[i].Name == name {
			a.Fields[i].Transform = t
			return
		}
	}
	a.Fields = append(a.Fields, FieldRule{Name: name, Transform: t})
}

func dropField(a *Agreement, name string) {
	for i := range a.Fields {
		if a.Fields[i].Name == name {
			a.Fields = append(a.Fields[:i], a.Fields[i+1:]...)
			return
		}
	}
}

func TestDiff(t *testing.T) {
	cases := []struct {
		name string
		edit func(a *Agreement)
		want FieldChange
		line string
	}{
		{"pseudonymize to keep widens", func(a *Agreement) { setField(a, "citizen_id", Transform{Kind: Keep}) },
			FieldChange{"citizen_id", TransformChanged, "pseudonymize", "keep", Widens}, "~ field citizen_id: pseudonymize → keep (widens)"},
		{"pseudonymize to hash widens", func(a *Agreement) { setField(a, "citizen_id", Transform{Kind: Hash}) },
			FieldChange{"citizen_id", TransformChanged, "pseudonymize", "hash", Widens}, ""},
		{"keep to pseudonymize narrows", func(a *Agreement) { setField(a, "record_id", Transform{Kind: Pseudonymize}) },
			FieldChange{"record_id", TransformChanged, "keep", "pseudonymize", Narrows}, ""},
		{"redact to truncate widens", func(a *Agreement) { setField(a, "note", Transform{Kind: Truncate, N: 10}) },
			FieldChange{"note", TransformChanged, "redact", "{truncate: 10}", Widens}, ""},
		{"longer truncate widens", func(a *Agreement) { setField(a, "postcode", Transform{Kind: Truncate, N: 4}) },
			FieldChange{"postcode", TransformChanged, "{truncate: 2}", "{truncate: 4}", Widens}, "~ field postcode: {truncate: 2} → {truncate: 4} (widens)"},
		{"shorter truncate narrows", func(a *Agreement) { setField(a, "postcode", Transform{Kind: Truncate, N: 1}) },
			FieldChange{"postcode", TransformChanged, "{truncate: 2}", "{truncate: 1}", Narrows}, ""},
		{"more keep_last widens", func(a *Agreement) { setField(a, "phone", Transform{Kind: Mask, N: 4}) },
			FieldChange{"phone", TransformChanged, "{mask: {keep_last: 2}}", "{mask: {keep_last: 4}}", Widens}, ""},
		{"finer unit widens", func(a *Agreement) { setField(a, "administered_at", Transform{Kind: Generalize, Unit: "day"}) },
			FieldChange{"administered_at", TransformChanged, "{generalize: month}", "{generalize: day}", Widens}, ""},
		{"coarser unit narrows", func(a *Agreement) { setField(a, "administered_at", Transform{Kind: Generalize, Unit: "year"}) },
			FieldChange{"administered_at", TransformChanged, "{generalize: month}", "{generalize: year}", Narrows}, ""},
		{"smaller bucket widens", func(a *Agreement) { setField(a, "age", Transform{Kind: Generalize, Bucket: 5}) },
			FieldChange{"age", TransformChanged, "{generalize: {bucket: 10}}", "{generalize: {bucket: 5}}", Widens}, ""},
		{"truncate to mask changes", func(a *Agreement) { setField(a, "postcode", Transform{Kind: Mask, N: 2}) },
			FieldChange{"postcode", TransformChanged, "{truncate: 2}", "{mask: {keep_last: 2}}", Changes}, ""},
		{"added field widens", func(a *Agreement) { setField(a, "region", Transform{Kind: Keep}) },
			FieldChange{"region", FieldAdded, "", "keep", Widens}, "+ field region: keep (newly received; widens)"},
		{"removed field narrows", func(a *Agreement) { dropField(a, "phone") },
			FieldChange{"phone", FieldRemoved, "{mask: {keep_last: 2}}", "", Narrows}, "- field phone: was {mask: {keep_last: 2}} (no longer received; narrows)"},
		{"purpose changes", func(a *Agreement) { a.Purpose = "housing" },
			FieldChange{"purpose", KeyChanged, `"child benefit"`, `"housing"`, Changes}, `~ purpose: "child benefit" → "housing" (changes)`},
		{"legal basis changes", func(a *Agreement) { a.LegalBasis = "Other Act" },
			FieldChange{"legal_basis", KeyChanged, `"Social Services Act 2019, s.12(3)"`, `"Other Act"`, Changes}, ""},
		{"later valid_until widens", func(a *Agreement) { a.ValidUntil = tAfterUp },
			FieldChange{"valid_until", KeyChanged, "2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z", Widens}, ""},
		{"earlier valid_until narrows", func(a *Agreement) { a.ValidUntil = tMid },
			FieldChange{"valid_until", KeyChanged, "2027-01-01T00:00:00Z", "2026-06-01T00:00:00Z", Narrows}, ""},
		{"earlier valid_from widens", func(a *Agreement) { a.ValidFrom = tBefore },
			FieldChange{"valid_from", KeyChanged, "2026-01-01T00:00:00Z", "2025-12-01T00:00:00Z", Widens}, ""},
		{"filter removed widens", func(a *Agreement) { a.Filter = "" },
			FieldChange{"filter", KeyChanged, `"record.region == 'north'"`, "", Widens}, `~ filter: "record.region == 'north'" → (none) (widens)`},
		{"filter changed", func(a *Agreement) { a.Filter = "record.region == 'east'" },
			FieldChange{"filter", KeyChanged, `"record.region == 'north'"`, `"record.region == 'east'"`, Changes}, ""},
		{"looser max_age widens", func(a *Agreement) { a.MaxAge = calendar.Wall(time.Hour) },
			FieldChange{"freshness.max_age", KeyChanged, "5m", "1h", Widens}, ""},
		{"max_age removed widens", func(a *Agreement) { a.MaxAge = calendar.Duration{} },
			FieldChange{"freshness.max_age", KeyChanged, "5m", "", Widens}, ""},
		{"stricter max_age narrows", func(a *Agreement) { a.MaxAge = calendar.Wall(time.Minute) },
			FieldChange{"freshness.max_age", KeyChanged, "5m", "1m", Narrows}, ""},
		{"suspension narrows", func(a *Agreement) { a.Status = StatusSuspended },
			FieldChange{"status", KeyChanged, "active", "suspended", Narrows}, ""},
		{"consumer changes", func(a *Agreement) { a.Consumer = "tax" },
			FieldChange{"consumer", KeyChanged, "social-services", "tax", Changes}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old, new := baseAgreement(), baseAgreement()
			c.edit(new)
			got := Diff(old, new)
			if len(got) != 1 {
				t.Fatalf("Diff = %v, want exactly [%v]", got, c.want)
			}
			if got[0] != c.want {
				t.Fatalf("Diff = %+v, want %+v", got[0], c.want)
			}
			if c.line != "" && got[0].String() != c.line {
				t.Fatalf("String() = %q, want %q", got[0].String(), c.line)
			}
		})
	}
}

func TestDiffIdenticalIsEmpty(t *testing.T) {
	if got := Diff(baseAgreement(), baseAgreement()); len(got) != 0 {
		t.Fatalf("Diff of identical agreements = %v", got)
	}
}

func TestDiffOrderAndNil(t *testing.T) {
	old, new := baseAgreement(), baseAgreement()
	new.Purpose = "x"
	dropField(new, "record_id")
	setField(new, "region", Transform{Kind: Keep})
	new.Filter = ""
	var lines []string
	for _, c := range Diff(old, new) {
		lines = append(lines, c.Field)
	}
	if got := strings.Join(lines, ","); got != "purpose,record_id,region,filter" {
		t.Fatalf("order = %s, want purpose,record_id,region,filter", got)
	}
	all := Diff(nil, baseAgreement())
	added := 0
	for _, c := range all {
		if c.Kind == FieldAdded {
			added++
		}
	}
	if added != len(baseAgreement().Fields) {
		t.Fatalf("Diff(nil, a) added %d fields, want %d", added, len(baseAgreement().Fields))
	}
}
