package agreements

import (
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// The example calendar loads with its ICS file of public holidays and its
// own closure days.
func TestExampleCalendar(t *testing.T) {
	s, err := LoadFile("../deploy/examples/calendar-national-working-days.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cal := s.CalendarOf("national-working-days")
	if cal == nil {
		t.Fatal("calendar national-working-days not built")
	}
	for d, working := range map[calendar.Date]bool{
		{Year: 2026, Month: time.April, Day: 3}:     false, // Good Friday, from the ICS file
		{Year: 2026, Month: time.December, Day: 24}: false, // closure, from the list
		{Year: 2026, Month: time.December, Day: 28}: false, // substitute Boxing Day
		{Year: 2026, Month: time.December, Day: 29}: true,
		{Year: 2027, Month: time.January, Day: 2}:   false, // a Saturday
	} {
		if cal.Working(d) != working {
			t.Errorf("%s: working %v, want %v", d, !working, working)
		}
	}
	if cal.DayLength() != 10*time.Hour {
		t.Errorf("day length %s, want 10h", cal.DayLength())
	}
}

// A contract's business-time freshness inherited by its agreement: a set
// resolves the calendar each counts in.
func TestFreshnessCalendarOfSet(t *testing.T) {
	s, ps, err := ValidateFiles("testdata/calendar.good.yaml")
	if err != nil || len(ps) > 0 {
		t.Fatalf("%v %v", err, ps)
	}
	c, _ := s.Contract("health.immunisations")
	if got := s.CalendarOf(c.Freshness.Calendar); got == nil || got.ID() != "civil-service" || got.DayLength() != 9*time.Hour {
		t.Fatalf("contract calendar = %v", got)
	}
	a, _ := s.Agreement("health-to-social-2026-001")
	if got := s.FreshnessCalendar(a); got == nil || got.ID() != "civil-service" {
		t.Fatalf("agreement inherits %v, want civil-service", got)
	}
	if !c.Freshness.MaxAge.IsBusiness() || c.Freshness.MaxAge.Active(s.CalendarOf("civil-service")) != 18*time.Hour {
		t.Errorf("max_age = %s", c.Freshness.MaxAge)
	}
}
