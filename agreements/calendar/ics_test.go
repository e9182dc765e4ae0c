package calendar

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadHolidays(t *testing.T) {
	f, err := os.Open("../testdata/holidays.ics")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dates, skipped, err := ReadHolidays(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range dates {
		got = append(got, d.String())
	}
	// New Year (yearly, 3 times), Christmas 25–28 (DTEND exclusive), the
	// early May bank holiday (no DTEND: one day); the timed meeting skipped.
	want := "2026-05-04 2026-12-25 2026-12-26 2026-12-27 2026-12-28 2027-01-01 2028-01-01 2029-01-01"
	if strings.Join(got, " ") != want || skipped != 1 {
		t.Errorf("holidays = %v (skipped %d), want %s (skipped 1)", got, skipped, want)
	}

	// A calendar with them: Thu 2026-12-24 17:00 to Tue 12-29 09:00 is 2h,
	// New Year 2029 (a Monday) is not worked.
	c, err := New("ics", mustLoc(t, london), weekdays, mustSpans(t, "08:00-18:00"), dates)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Between(at(t, london, "2026-12-24 17:00"), at(t, london, "2026-12-29 09:00")); got != 2*time.Hour {
		t.Errorf("Between over Christmas = %s, want 2h", got)
	}
	if c.Working(Date{2029, time.January, 1}) || !c.Working(Date{2029, time.January, 2}) {
		t.Error("2029-01-01 should be a holiday and 2029-01-02 a working day")
	}
	if c.Active(at(t, london, "2026-05-04 10:00")) {
		t.Error("the early May bank holiday is active")
	}
}

func TestReadHolidaysRefuses(t *testing.T) {
	cases := map[string]string{
		"empty":        "",
		"not ical":     "kind: Calendar\n",
		"unterminated": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n",
		"bad date":     "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:x@y\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261340\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
	}
	for name, in := range cases {
		if _, _, err := ReadHolidays(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
