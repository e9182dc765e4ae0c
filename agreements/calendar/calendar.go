package calendar

import (
	"errors"
	"fmt"
	"sort"
	"time"

	_ "time/tzdata" // timezones load on air-gapped hosts without zoneinfo
)

// minutesPerDay is the end of the last possible span ("24:00").
const minutesPerDay = 24 * 60

// Span is one range of working hours, in minutes after local midnight:
// [Start, End), End at most 1440 ("24:00").
type Span struct{ Start, End int }

func (s Span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.Start/60, s.Start%60, s.End/60, s.End%60)
}

// Calendar is a timezone, the working days of the week, the working hours
// of each working day and the holidays. The zero value is not usable; build
// one with New.
type Calendar struct {
	id       string
	loc      *time.Location
	days     [7]bool // by time.Weekday
	spans    []Span  // sorted, disjoint
	dayLen   time.Duration
	holidays map[int32]struct{} // by dateKey
}

// maxScanDays bounds the walks of Add and Between over days without any
// active time: a calendar whose every working day is a holiday for two
// centuries is a mistake, not a calendar.
const maxScanDays = 200 * 366

// New builds a calendar. hours may be empty: a working day is then active
// all day. It refuses a nil location, no working day, and spans that are
// out of range, empty, inverted or overlapping.
func New(id string, loc *time.Location, days []time.Weekday, hours []Span, holidays []Date) (*Calendar, error) {
	if loc == nil {
		return nil, errors.New("calendar " + id + ": no timezone")
	}
	c := &Calendar{id: id, loc: loc, holidays: make(map[int32]struct{}, len(holidays))}
	for _, d := range days {
		if d < time.Sunday || d > time.Saturday {
			return nil, fmt.Errorf("calendar %s: weekday %d out of range", id, d)
		}
		c.days[d] = true
	}
	if len(days) == 0 {
		return nil, fmt.Errorf("calendar %s: no working days", id)
	}
	if len(hours) == 0 {
		hours = []Span{{0, minutesPerDay}}
	}
	if err := CheckSpans(hours); err != nil {
		return nil, fmt.Errorf("calendar %s: %w", id, err)
	}
	c.spans = append([]Span(nil), hours...)
	sort.Slice(c.spans, func(i, j int) bool { return c.spans[i].Start < c.spans[j].Start })
	for _, s := range c.spans {
		c.dayLen += time.Duration(s.End-s.Start) * time.Minute
	}
	for _, h := range holidays {
		c.holidays[h.key()] = struct{}{}
	}
	return c, nil
}

// CheckSpans reports the first span that is out of range, empty or
// inverted, or that overlaps another.
func CheckSpans(spans []Span) error {
	for i, s := range spans {
		switch {
		case s.Start < 0 || s.End > minutesPerDay:
			return fmt.Errorf("hours %s are outside 00:00-24:00", s)
		case s.End <= s.Start:
			return fmt.Errorf("hours %s end before they start", s)
		}
		for _, o := range spans[:i] {
			if s.Start < o.End && o.Start < s.End {
				return fmt.Errorf("hours %s overlap %s", s, o)
			}
		}
	}
	return nil
}

// ID is the calendar's id.
func (c *Calendar) ID() string { return c.id }

// Location is the calendar's timezone.
func (c *Calendar) Location() *time.Location { return c.loc }

// DayLength is the active time of one working day: the sum of its hours
// (24h when none are given). A business day is this much active time.
func (c *Calendar) DayLength() time.Duration { return c.dayLen }

// Spans returns the working hours of a working day, sorted.
func (c *Calendar) Spans() []Span { return append([]Span(nil), c.spans...) }

// IsHoliday reports whether the local date d is a holiday.
func (c *Calendar) IsHoliday(d Date) bool {
	_, ok := c.holidays[d.key()]
	return ok
}

// Working reports whether the local date d is a working day: a working
// weekday that is not a holiday.
func (c *Calendar) Working(d Date) bool { return c.working(d, d.Weekday()) }

// working is Working with the weekday known (the walks keep count of it).
func (c *Calendar) working(d Date, wd time.Weekday) bool {
	if !c.days[wd] {
		return false
	}
	_, hol := c.holidays[d.key()]
	return !hol
}

// Active reports whether t falls inside working hours of a working day, in
// the calendar's timezone.
func (c *Calendar) Active(t time.Time) bool {
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	if !c.days[lt.Weekday()] {
		return false
	}
	if _, hol := c.holidays[dateKey(y, m, d)]; hol {
		return false
	}
	h, mi, s := lt.Clock()
	sec := (h*60+mi)*60 + s
	for _, sp := range c.spans {
		if sec >= sp.Start*60 && sec < sp.End*60 {
			return true
		}
	}
	return false
}

// Between returns the active time in [a, b): zero when b is not after a.
// It walks the local days from a to b, so its cost grows with the number
// of days between them.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	return c.between(a, b, -1)
}

// Exceeds reports whether more than d of active time lies in [a, b). It
// stops walking as soon as d is exceeded, so a very old a costs no more
// than a recent one: the check freshness runs on every record.
func (c *Calendar) Exceeds(a, b time.Time, d time.Duration) bool {
	return c.between(a, b, d) > d
}

// between sums the active time in [a, b), stopping once it exceeds limit
// (limit < 0: no limit).
func (c *Calendar) between(a, b time.Time, limit time.Duration) time.Duration {
	if !b.After(a) {
		return 0
	}
	var total time.Duration
	k := clock{loc: c.loc}
	day, wd := localDay(a, c.loc)
	last, _ := localDay(b, c.loc)
	for n := 0; !last.Before(day) && n < maxScanDays; n, day, wd = n+1, day.next(), (wd+1)%7 {
		if !c.working(day, wd) {
			continue
		}
		for _, sp := range c.spans {
			s := k.at(day, sp.Start)
			if !s.Before(b) {
				return total
			}
			e := k.at(day, sp.End)
			if s.Before(a) {
				s = a
			}
			if e.After(b) {
				e = b
			}
			if e.After(s) {
				total += e.Sub(s)
				if limit >= 0 && total > limit {
					return total
				}
			}
		}
	}
	return total
}

// Add returns the instant at which d of active time has passed since t:
// t itself when d ≤ 0, otherwise the end of the d-th unit of active time,
// which always lies inside (or at the end of) working hours. After two
// centuries without active time it gives up and returns the zero Time
// (which lies before any real instant, so a deadline is taken as passed).
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	k := clock{loc: c.loc}
	day, wd := localDay(t, c.loc)
	for n := 0; n < maxScanDays; n, day, wd = n+1, day.next(), (wd+1)%7 {
		if !c.working(day, wd) {
			continue
		}
		for _, sp := range c.spans {
			s, e := k.at(day, sp.Start), k.at(day, sp.End)
			if !e.After(t) {
				continue
			}
			if s.Before(t) {
				s = t
			}
			if avail := e.Sub(s); d <= avail {
				return s.Add(d)
			} else {
				d -= avail
			}
		}
	}
	return time.Time{}
}
