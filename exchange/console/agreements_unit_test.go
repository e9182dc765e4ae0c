package console

import (
	"slices"
	"testing"

	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// TestActionsFor: only a steward of a party gets actions, and only those
// its status allows (the service decides again; this is what is shown).
func TestActionsFor(t *testing.T) {
	steward := func(agency string) stewardship.Actor {
		return stewardship.Actor{Name: "s", Agency: agency, Steward: true}
	}
	cases := []struct {
		name   string
		actor  stewardship.Actor
		status string
		want   []string
	}{
		{"provider steward, active", steward("health"), "active", []string{"suspend", "revoke"}},
		{"consumer steward, suspended", steward("statistics"), "suspended", []string{"resume", "revoke"}},
		{"consumer steward, proposed", steward("statistics"), "proposed", []string{"approve", "revoke"}},
		{"provider steward, revoked", steward("health"), "revoked", nil},
		{"third agency steward", steward("tax"), "active", nil},
		{"consumer agency system", stewardship.Actor{Name: "statistics", Agency: "statistics"}, "active", nil},
		{"auditor", stewardship.Actor{Name: "a", ReadsAll: true}, "proposed", nil},
	}
	for _, c := range cases {
		a := stewardship.View{ID: "x", Provider: "health.immunisations", Consumer: "statistics", Status: c.status}
		var got []string
		for _, act := range actionsFor(c.actor, a) {
			got = append(got, act.Name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: actions %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAgreementFilters: status and party exact, text in any of id,
// dataset, consumer, purpose, legal basis, ignoring case.
func TestAgreementFilters(t *testing.T) {
	a := stewardship.View{ID: "health-to-statistics-2026-002", Provider: "health.immunisations", Consumer: "statistics",
		Status: "active", Purpose: "Quarterly statistics", LegalBasis: "Statistics Act 2011"}
	cases := []struct {
		f    agreementFilters
		want bool
	}{
		{agreementFilters{}, true},
		{agreementFilters{Status: "active"}, true},
		{agreementFilters{Status: "suspended"}, false},
		{agreementFilters{Party: "health"}, true},
		{agreementFilters{Party: "statistics"}, true},
		{agreementFilters{Party: "tax"}, false},
		{agreementFilters{Text: "QUARTERLY"}, true},
		{agreementFilters{Text: "act 2011"}, true},
		{agreementFilters{Text: "immunis", Party: "tax"}, false},
		{agreementFilters{Text: "housing"}, false},
	}
	for _, c := range cases {
		if got := c.f.matches(a); got != c.want {
			t.Errorf("%+v matches: %v, want %v", c.f, got, c.want)
		}
	}
}

// TestLayoutActivity: bars sit on the baseline, the tallest reaches the
// top of the plot, a zero count draws nothing, and the axis ends at the
// largest count.
func TestLayoutActivity(t *testing.T) {
	days := []activityDay{{Day: "2026-12-01"}, {Day: "2026-12-02", Delivered: 40, Skipped: 10, Quarantined: 0}, {Day: "2026-12-03", Delivered: 20}}
	ch := layoutActivity(days, true)
	if ch.Max != 40 || !ch.Any {
		t.Fatalf("max %d any %v, want 40 true", ch.Max, ch.Any)
	}
	if n := len(ch.Days[0].Bars); n != 0 {
		t.Errorf("an empty day has %d bars", n)
	}
	bars := ch.Days[1].Bars
	if len(bars) != 2 || bars[0].Class != "bar-delivered" || bars[1].Class != "bar-skipped" {
		t.Fatalf("day 2 bars %+v, want delivered and skipped", bars)
	}
	top := float64(actTop)
	for _, b := range append(bars, ch.Days[2].Bars...) {
		if d := b.Y + b.H - ch.Baseline; d > 1e-9 || d < -1e-9 {
			t.Errorf("bar %+v does not stand on the baseline %v", b, ch.Baseline)
		}
	}
	if bars[0].Y != top {
		t.Errorf("the tallest bar's top is %v, want the plot's top %v", bars[0].Y, top)
	}
	if got := ch.Days[2].Bars[0].H; got != bars[0].H/2 {
		t.Errorf("20 records draw %v high, want half of 40's %v", got, bars[0].H)
	}
	if last := ch.Ticks[len(ch.Ticks)-1].Label; last != "40" {
		t.Errorf("the axis ends at %s, want 40", last)
	}
	for raw, want := range map[float64]float64{0: 1, 0.25: 1, 3: 5, 10: 10, 12.75: 20, 51: 100, 260: 500} {
		if got := niceStep(raw); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", raw, got, want)
		}
	}
	if empty := layoutActivity([]activityDay{{Day: "2026-12-01"}}, false); empty.Any || len(empty.Days[0].Bars) != 0 {
		t.Errorf("no records: %+v", empty)
	}
}
