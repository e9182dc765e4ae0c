package calendar

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustSpans(t testing.TB, hours ...string) []Span {
	t.Helper()
	var out []Span
	for _, h := range hours {
		s, err := ParseSpan(h)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func mustDates(t testing.TB, ds ...string) []Date {
	t.Helper()
	var out []Date
	for _, s := range ds {
		d, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
var everyDay = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}

func mustNew(t testing.TB, tz string, days []time.Weekday, hours []string, holidays ...string) *Calendar {
	t.Helper()
	c, err := New("test", mustLoc(t, tz), days, mustSpans(t, hours...), mustDates(t, holidays...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// at is a local wall time in tz.
func at(t testing.TB, tz, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, mustLoc(t, tz))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	london  = "Europe/London"
	newYork = "America/New_York"
)

// calendars of the golden tables, by name.
func goldenCalendars(t testing.TB) map[string]*Calendar {
	return map[string]*Calendar{
		// UK office hours; 2026-12-25 (Fri) and the substitute Boxing Day
		// 2026-12-28 (Mon) are holidays.
		"london-office": mustNew(t, london, weekdays, []string{"08:00-18:00"}, "2026-12-25", "2026-12-28"),
		// a lunch break: 9h a day
		"london-split": mustNew(t, london, weekdays, []string{"08:00-12:30", "13:30-18:00"}),
		// a night shift every day, across the hour the clocks change
		"london-night": mustNew(t, london, everyDay, []string{"00:30-03:00"}),
		// round the clock, every day
		"london-always":  mustNew(t, london, everyDay, nil),
		"newyork-office": mustNew(t, newYork, weekdays, []string{"09:00-17:00"}),
	}
}

func TestCalendarBetweenGolden(t *testing.T) {
	cals := goldenCalendars(t)
	utc := func(s string) time.Time { return at(t, "UTC", s) }
	cases := []struct {
		name, cal string
		a, b      time.Time
		want      time.Duration
	}{
		{"same day inside hours", "london-office", at(t, london, "2026-06-15 09:00"), at(t, london, "2026-06-15 11:30"), 150 * time.Minute},
		{"a whole working day, 08:00 to 18:00 exactly", "london-office", at(t, london, "2026-06-15 08:00"), at(t, london, "2026-06-15 18:00"), 10 * time.Hour},
		{"before opening to after closing", "london-office", at(t, london, "2026-06-15 06:00"), at(t, london, "2026-06-15 20:00"), 10 * time.Hour},
		{"evening to next morning", "london-office", at(t, london, "2026-06-15 17:00"), at(t, london, "2026-06-16 09:00"), 2 * time.Hour},
		{"over a weekend", "london-office", at(t, london, "2026-06-12 17:00"), at(t, london, "2026-06-15 09:00"), 2 * time.Hour},
		{"a weekend alone", "london-office", at(t, london, "2026-06-13 00:00"), at(t, london, "2026-06-15 00:00"), 0},
		{"a week", "london-office", at(t, london, "2026-06-15 00:00"), at(t, london, "2026-06-22 00:00"), 50 * time.Hour},
		{"over Christmas (holidays Fri 25 and Mon 28)", "london-office", at(t, london, "2026-12-24 17:00"), at(t, london, "2026-12-29 09:00"), 2 * time.Hour},
		{"b before a", "london-office", at(t, london, "2026-06-15 11:00"), at(t, london, "2026-06-15 09:00"), 0},
		{"lunch break not counted", "london-split", at(t, london, "2026-06-15 12:00"), at(t, london, "2026-06-15 14:00"), time.Hour},
		{"split day whole", "london-split", at(t, london, "2026-06-15 00:00"), at(t, london, "2026-06-16 00:00"), 9 * time.Hour},
		// Europe/London: 2026-03-29 01:00 GMT → 02:00 BST; 2026-10-25 02:00 BST → 01:00 GMT.
		{"March DST on a Sunday: office hours untouched", "london-office", at(t, london, "2026-03-27 17:00"), at(t, london, "2026-03-30 09:00"), 2 * time.Hour},
		{"March DST: the spring-forward day has 23h", "london-always", at(t, london, "2026-03-29 00:00"), at(t, london, "2026-03-30 00:00"), 23 * time.Hour},
		{"March DST: night shift 00:30-03:00 loses the skipped hour", "london-night", utc("2026-03-28 12:00"), utc("2026-03-29 12:00"), 90 * time.Minute},
		{"October DST: the fall-back day has 25h", "london-always", at(t, london, "2026-10-25 00:00"), at(t, london, "2026-10-26 00:00"), 25 * time.Hour},
		{"October DST: night shift gains the repeated hour", "london-night", utc("2026-10-24 12:00"), utc("2026-10-25 12:00"), 210 * time.Minute},
		{"October DST: office hours over the weekend", "london-office", at(t, london, "2026-10-23 17:00"), at(t, london, "2026-10-26 09:00"), 2 * time.Hour},
		// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
		{"New York March DST weekend", "newyork-office", at(t, newYork, "2026-03-06 16:00"), at(t, newYork, "2026-03-09 10:00"), 2 * time.Hour},
		{"New York November DST weekend", "newyork-office", at(t, newYork, "2026-10-30 16:00"), at(t, newYork, "2026-11-02 10:00"), 2 * time.Hour},
		// The same two instants in two timezones: 12:00Z-20:00Z on a Monday
		// is 13:00-21:00 in London (open until 18:00) and 08:00-16:00 in
		// New York (open from 09:00).
		{"timezones: London", "london-office", utc("2026-06-15 12:00"), utc("2026-06-15 20:00"), 5 * time.Hour},
		{"timezones: New York", "newyork-office", utc("2026-06-15 12:00"), utc("2026-06-15 20:00"), 7 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cals[tc.cal].Between(tc.a, tc.b); got != tc.want {
				t.Errorf("Between(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestCalendarActiveBoundaries(t *testing.T) {
	cals := goldenCalendars(t)
	cases := []struct {
		cal, at string
		tz      string
		want    bool
	}{
		{"london-office", "2026-06-15 07:59", london, false},
		{"london-office", "2026-06-15 08:00", london, true}, // opening is inside
		{"london-office", "2026-06-15 17:59", london, true},
		{"london-office", "2026-06-15 18:00", london, false}, // closing is outside
		{"london-office", "2026-06-13 10:00", london, false}, // Saturday
		{"london-office", "2026-12-25 10:00", london, false}, // holiday
		{"london-office", "2026-12-28 10:00", london, false}, // substitute holiday
		{"london-office", "2026-12-29 10:00", london, true},
		{"london-split", "2026-06-15 12:29", london, true},
		{"london-split", "2026-06-15 12:30", london, false},
		{"london-split", "2026-06-15 13:29", london, false},
		{"london-split", "2026-06-15 13:30", london, true},
		{"london-office", "2026-06-15 07:30", "UTC", true},   // 08:30 BST
		{"london-office", "2026-01-15 07:30", "UTC", false},  // 07:30 GMT
		{"newyork-office", "2026-06-15 13:00", "UTC", true},  // 09:00 EDT
		{"newyork-office", "2026-01-15 13:00", "UTC", false}, // 08:00 EST
	}
	for _, tc := range cases {
		if got := cals[tc.cal].Active(at(t, tc.tz, tc.at)); got != tc.want {
			t.Errorf("%s: Active(%s %s) = %v, want %v", tc.cal, tc.at, tc.tz, got, tc.want)
		}
	}
}

func TestCalendarAddGolden(t *testing.T) {
	cals := goldenCalendars(t)
	cases := []struct {
		name, cal string
		from      time.Time
		d         time.Duration
		want      time.Time
	}{
		{"zero", "london-office", at(t, london, "2026-06-13 10:00"), 0, at(t, london, "2026-06-13 10:00")},
		{"inside a day", "london-office", at(t, london, "2026-06-15 09:00"), 2 * time.Hour, at(t, london, "2026-06-15 11:00")},
		{"ends exactly at closing", "london-office", at(t, london, "2026-06-15 08:00"), 10 * time.Hour, at(t, london, "2026-06-15 18:00")},
		{"over the weekend", "london-office", at(t, london, "2026-06-12 17:00"), 2 * time.Hour, at(t, london, "2026-06-15 09:00")},
		{"from a Saturday", "london-office", at(t, london, "2026-06-13 10:00"), time.Hour, at(t, london, "2026-06-15 09:00")},
		{"from closing time", "london-office", at(t, london, "2026-06-12 18:00"), time.Hour, at(t, london, "2026-06-15 09:00")},
		{"two business days", "london-office", at(t, london, "2026-06-15 15:00"), 20 * time.Hour, at(t, london, "2026-06-17 15:00")},
		{"one business day over Christmas", "london-office", at(t, london, "2026-12-24 15:00"), 10 * time.Hour, at(t, london, "2026-12-29 15:00")},
		{"over lunch", "london-split", at(t, london, "2026-06-15 12:00"), time.Hour, at(t, london, "2026-06-15 14:00")},
		{"over March DST", "london-office", at(t, london, "2026-03-27 17:00"), 2 * time.Hour, at(t, london, "2026-03-30 09:00")},
		{"New York over November DST", "newyork-office", at(t, newYork, "2026-10-30 16:00"), 2 * time.Hour, at(t, newYork, "2026-11-02 10:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cals[tc.cal]
			got := c.Add(tc.from, tc.d)
			if !got.Equal(tc.want) {
				t.Errorf("Add(%s, %s) = %s, want %s", tc.from, tc.d, got, tc.want)
			}
			if back := c.Between(tc.from, got); back != tc.d {
				t.Errorf("Between(from, Add(from, %s)) = %s", tc.d, back)
			}
		})
	}
}

func TestCalendarExceedsStopsAtTheBound(t *testing.T) {
	c := goldenCalendars(t)["london-office"]
	now := at(t, london, "2026-06-17 15:00")
	cases := []struct {
		name  string
		event time.Time
		want  bool
	}{
		{"exactly two business days is not more", at(t, london, "2026-06-15 15:00"), false},
		{"one minute more", at(t, london, "2026-06-15 14:59"), true},
		{"from the weekend before: Mon 08:00 to Wed 15:00 is 27h", at(t, london, "2026-06-13 12:00"), true},
		{"a year old", at(t, london, "2025-06-17 15:00"), true},
		{"from the future", now.Add(time.Hour), false},
	}
	for _, tc := range cases {
		if got := c.Exceeds(tc.event, now, 20*time.Hour); got != tc.want {
			t.Errorf("%s: Exceeds = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	c := goldenCalendars(t)["london-split"] // 9h working day
	cases := []struct {
		in       string
		business bool
		active   time.Duration
		str      string
		err      string
	}{
		{in: "15m", active: 15 * time.Minute, str: "15m"},
		{in: "7d", active: 7 * 24 * time.Hour, str: "7d"},
		{in: "1d12h", active: 36 * time.Hour, str: "1d12h"},
		{in: "2 business_days", business: true, active: 18 * time.Hour, str: "2 business_days"},
		{in: "1 business_day", business: true, active: 9 * time.Hour, str: "1 business_day"},
		{in: "4 business_hours", business: true, active: 4 * time.Hour, str: "4 business_hours"},
		{in: "30 business_minutes", business: true, active: 30 * time.Minute, str: "30 business_minutes"},
		{in: "2 business_weeks", err: `unknown unit "business_weeks"`},
		{in: "-1 business_days", err: "is not a whole number"},
		{in: "1.5 business_days", err: "is not a whole number"},
		{in: "fifteen minutes", err: "is not a duration"},
		{in: "-5m", err: "is negative"},
	}
	for _, tc := range cases {
		d, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tc.in, err)
			continue
		}
		if d.IsBusiness() != tc.business || d.Active(c) != tc.active || d.String() != tc.str {
			t.Errorf("ParseDuration(%q) = business %v, active %s, %q; want %v, %s, %q", tc.in, d.IsBusiness(), d.Active(c), d.String(), tc.business, tc.active, tc.str)
		}
	}
}

func TestDurationExceededAndDeadline(t *testing.T) {
	c := goldenCalendars(t)["london-office"]
	fri := at(t, london, "2026-06-12 16:00")
	mon := at(t, london, "2026-06-15 10:00")
	fourHours, _ := ParseDuration("4 business_hours")
	plain, _ := ParseDuration("4h")
	if !plain.Exceeded(nil, fri, mon) || fourHours.Exceeded(c, fri, mon) {
		t.Errorf("Fri 16:00 → Mon 10:00: plain 4h exceeded %v (want true), 4 business_hours exceeded %v (want false: 4h of working time)",
			plain.Exceeded(nil, fri, mon), fourHours.Exceeded(c, fri, mon))
	}
	if got, want := fourHours.Deadline(c, fri), at(t, london, "2026-06-15 10:00"); !got.Equal(want) {
		t.Errorf("Deadline = %s, want %s", got, want)
	}
	if got := plain.Deadline(nil, fri); !got.Equal(fri.Add(4 * time.Hour)) {
		t.Errorf("plain Deadline = %s", got)
	}
	if (Duration{}).Exceeded(c, fri, mon.Add(1000*time.Hour)) {
		t.Error("a zero duration is never exceeded")
	}
}

func TestNewRefuses(t *testing.T) {
	loc := mustLoc(t, london)
	cases := []struct {
		name  string
		loc   *time.Location
		days  []time.Weekday
		hours []Span
	}{
		{"no timezone", nil, weekdays, nil},
		{"no days", loc, nil, nil},
		{"overlap", loc, weekdays, []Span{{480, 720}, {700, 900}}},
		{"inverted", loc, weekdays, []Span{{900, 480}}},
		{"out of range", loc, weekdays, []Span{{0, 1500}}},
	}
	for _, tc := range cases {
		if _, err := New("x", tc.loc, tc.days, tc.hours, nil); err == nil {
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestParseSpan(t *testing.T) {
	for in, want := range map[string]Span{"08:00-18:00": {480, 1080}, "00:00-24:00": {0, 1440}, " 13:30 - 18:00 ": {810, 1080}} {
		if got, err := ParseSpan(in); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"25:00-26:00", "18:00-08:00", "8-17", "08:00", "08:60-09:00", "24:01-24:02", "+8:00-09:00"} {
		if _, err := ParseSpan(in); err == nil {
			t.Errorf("ParseSpan(%q) accepted", in)
		}
	}
}
