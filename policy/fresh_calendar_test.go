package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
)

// Two London office calendars (08:00-18:00 BST = 07:00-17:00Z in June); the
// second has Friday 2026-06-12 off. testNow is Monday 2026-06-15 12:00Z,
// 13:00 in London: five working hours into the day.
const testCalendars = `
kind: Calendar
id: office
timezone: Europe/London
days: [mon, tue, wed, thu, fri]
hours: "08:00-18:00"
---
kind: Calendar
id: office-friday-off
timezone: Europe/London
days: [mon, tue, wed, thu, fri]
hours: ["08:00-18:00"]
holidays: [2026-06-12]
`

func loadCalendars(t testing.TB) []agreements.Calendar {
	t.Helper()
	set, err := agreements.Load("calendars.yaml", []byte(testCalendars))
	if err != nil {
		t.Fatal(err)
	}
	return set.Calendars
}

func mustDuration(t testing.TB, s string) calendar.Duration {
	t.Helper()
	d, err := calendar.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// businessInput is immInput with the contract's max age in business time of
// cal.
func businessInput(t testing.TB, cal, maxAge string) Input {
	in := immInput(t)
	in.Calendars = loadCalendars(t)
	f := *in.Contracts[0].Freshness
	f.Calendar, f.MaxAge = cal, mustDuration(t, maxAge)
	in.Contracts[0].Freshness = &f
	return in
}

func TestFreshnessInBusinessTime(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name, cal, maxAge string
		event             time.Time
		want              []string // reason codes; nil: fresh
	}{
		{"Fri 13:00 BST is exactly one business day ago", "office", "1 business_day", utc("2026-06-12 12:00"), nil},
		{"a minute earlier is stale", "office", "1 business_day", utc("2026-06-12 11:59"), []string{ReasonFreshnessStale}},
		{"three days old but the weekend does not count", "office", "2 business_days", utc("2026-06-12 09:00"), nil},
		{"Saturday counts nothing: 5h on Monday", "office", "6 business_hours", utc("2026-06-13 10:00"), nil},
		{"Thursday afternoon: 1h + 10h + 5h", "office", "1 business_day", utc("2026-06-11 16:00"), []string{ReasonFreshnessStale}},
		{"Thursday afternoon with Friday a holiday: 1h + 5h", "office-friday-off", "1 business_day", utc("2026-06-11 16:00"), nil},
		{"this morning before opening counts from 08:00", "office", "5 business_hours", utc("2026-06-15 05:00"), nil},
		{"a minute into the sixth hour", "office", "300 business_minutes", utc("2026-06-15 06:59"), nil},
		{"just past the bound", "office", "299 business_minutes", utc("2026-06-15 06:59"), []string{ReasonFreshnessStale}},
		{"future within skew is fresh", "office", "1 business_hour", testNow.Add(2 * time.Minute), nil},
		{"future beyond skew stays future", "office", "100 business_days", testNow.Add(10 * time.Minute), []string{ReasonFreshnessFuture}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, businessInput(t, tc.cal, tc.maxAge))
			d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = tc.event })}, testNow)
			if got := reasonCodes(d.Reasons); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("reasons = %v, want %v (%+v)", got, tc.want, d.Reasons)
			}
		})
	}
}

func TestBusinessStaleDetail(t *testing.T) {
	p := mustCompile(t, businessInput(t, "office", "1 business_day"))
	event := time.Date(2026, 6, 11, 16, 0, 0, 0, time.UTC)
	d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = event })}, testNow)
	want := "event time 2026-06-11T16:00:00Z is 16h0m0s old in working time of calendar office, over the max age 1 business_day by 6h0m0s"
	if len(d.Reasons) != 1 || d.Reasons[0].Detail != want {
		t.Errorf("reasons = %+v\nwant detail %q", d.Reasons, want)
	}
}

func TestAgreementMaxAgeInBusinessTime(t *testing.T) {
	in := businessInput(t, "office", "1 business_day")
	in.Agreements[0].MaxAge = mustDuration(t, "4 business_hours") // the contract's calendar
	p := mustCompile(t, in)
	for _, tc := range []struct {
		event time.Time
		skip  string
	}{
		{time.Date(2026, 6, 15, 9, 0, 0, 0, time.UTC), ""},         // 3h ago
		{time.Date(2026, 6, 12, 15, 0, 0, 0, time.UTC), SkipStale}, // Fri 2h + Mon 5h
	} {
		d := p.Evaluate(Record{Dataset: dsImm, SchemaID: idImmV2, Body: immBody(t, func(m map[string]any) { m["administered_at"] = tc.event })}, testNow)
		if d.Quarantined || len(d.Outcomes) != 1 || d.Outcomes[0].Skip != tc.skip {
			t.Errorf("event %s: decision %+v, want skip %q", tc.event, d, tc.skip)
		}
	}
}

func TestCompileRefusesBusinessTimeWithoutItsCalendar(t *testing.T) {
	cases := map[string]func(in *Input){
		"no calendar named":   func(in *Input) { in.Contracts[0].Freshness.Calendar = "" },
		"calendar not loaded": func(in *Input) { in.Calendars = nil },
		"agreement calendar unknown": func(in *Input) {
			in.Agreements[0].Calendar, in.Agreements[0].MaxAge = "elsewhere", mustDuration(t, "1 business_hour")
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			in := businessInput(t, "office", "1 business_day")
			edit(&in)
			_, err := Compile(in)
			var ps agreements.Problems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), "calendar") {
				t.Errorf("Compile = %v, want a calendar problem", err)
			}
		})
	}
}

// BenchmarkFreshnessBusinessTime is the business-time stale check alone: a
// record two days old on a Monday, against 2 business_days, as the hot path
// runs it (the calendar was prepared at compile time).
func BenchmarkFreshnessBusinessTime(b *testing.B) {
	in := businessInput(b, "office-friday-off", "2 business_days")
	p := mustCompile(b, in)
	ds := p.datasets[dsImm]
	event := time.Date(2026, 6, 11, 9, 0, 0, 0, time.UTC)
	if ds.fresh.maxAge.exceeded(event, testNow) {
		b.Fatal("should be fresh")
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ds.fresh.maxAge.exceeded(event, testNow)
	}
}

// BenchmarkFreshnessPlainTime is the same check with a plain bound, for
// comparison.
func BenchmarkFreshnessPlainTime(b *testing.B) {
	p := mustCompile(b, immInput(b))
	ds := p.datasets[dsImm]
	event := testNow.Add(-time.Minute)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ds.fresh.maxAge.exceeded(event, testNow)
	}
}

// TestAgreementFreshness: an agreement's own expected_every, in its own
// calendar, else its contract's, else wall time.
func TestAgreementFreshness(t *testing.T) {
	in := businessInput(t, "office", "1 business_day")
	id := in.Agreements[0].ID
	if every, _, ok := mustCompile(t, in).AgreementFreshness(id); !ok || !every.IsZero() {
		t.Fatalf("no expected_every: %v, %v", every, ok)
	}
	in.Agreements[0].ExpectedEvery = mustDuration(t, "2 business_hours")
	every, cal, ok := mustCompile(t, in).AgreementFreshness(id)
	if !ok || every.String() != "2 business_hours" || cal == nil || cal.ID() != "office" {
		t.Fatalf("contract's calendar: %v, %v, %v", every, cal, ok)
	}
	in.Agreements[0].Calendar = "office-friday-off"
	if _, cal, ok := mustCompile(t, in).AgreementFreshness(id); !ok || cal == nil || cal.ID() != "office-friday-off" {
		t.Fatalf("own calendar: %v, %v", cal, ok)
	}
	in = immInput(t)
	in.Agreements[0].ExpectedEvery = calendar.Wall(time.Minute)
	if every, cal, ok := mustCompile(t, in).AgreementFreshness(id); !ok || every.Wall() != time.Minute || cal != nil {
		t.Fatalf("wall time: %v, %v, %v", every, cal, ok)
	}
	if _, _, ok := mustCompile(t, in).AgreementFreshness("nope"); ok {
		t.Fatal("an unknown agreement has freshness")
	}
}
