package calendar

import (
	"fmt"
	"time"
)

// Date is a civil date, without a timezone: a holiday is a whole local day
// wherever the calendar is.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses 2006-01-02.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// DateOf is the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// localDay is the date and weekday of t in loc.
func localDay(t time.Time, loc *time.Location) (Date, time.Weekday) {
	lt := t.In(loc)
	return DateOf(lt), lt.Weekday()
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// Before reports whether d is an earlier date than o.
func (d Date) Before(o Date) bool { return d.key() < o.key() }

func (d Date) key() int32 { return dateKey(d.Year, d.Month, d.Day) }

func dateKey(y int, m time.Month, d int) int32 { return int32(y*10000 + int(m)*100 + d) }

// next is the following date.
func (d Date) next() Date {
	d.Day++
	if d.Day > daysIn(d.Year, d.Month) {
		d.Day = 1
		d.Month++
		if d.Month > time.December {
			d.Month = time.January
			d.Year++
		}
	}
	return d
}

var monthDays = [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(y int, m time.Month) int {
	if m == time.February && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return monthDays[m]
}

// unixDays is the number of days from 1970-01-01 to d, by the proleptic
// Gregorian calendar (H. Hinnant's days_from_civil): plain arithmetic, so
// the walks over days do not pay for time.Date.
func (d Date) unixDays() int64 {
	y, m := int64(d.Year), int64(d.Month)
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + int64(d.Day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// at is the instant of minute min after local midnight of d in loc (1440:
// the next midnight); a wall time skipped by a DST change is normalised as
// time.Date does.
func (d Date) at(min int, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, min/60, min%60, 0, 0, loc)
}
