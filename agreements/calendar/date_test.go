package calendar

import (
	"testing"
	"time"
)

// The arithmetic calendar agrees with package time, day by day, over four
// centuries either side of the epoch (leap years, century rules).
func TestDateArithmeticMatchesTime(t *testing.T) {
	d := Date{1600, time.January, 1}
	for i := 0; i < 366*800; i++ {
		tm := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
		if got, want := d.unixDays(), tm.Unix()/86400; got != want || DateOf(tm) != d || d.Weekday() != tm.Weekday() {
			t.Fatalf("%s: unixDays %d, want %d", d, got, want)
		}
		d = d.next()
	}
}
