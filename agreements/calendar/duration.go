package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is what a Duration counts.
type Unit uint8

const (
	// Plain is wall-clock time: 15m, 26h, 7d.
	Plain Unit = iota
	// BusinessDays counts working days of active time (DayLength each).
	BusinessDays
	// BusinessHours counts hours of active time.
	BusinessHours
	// BusinessMinutes counts minutes of active time.
	BusinessMinutes
)

var unitNames = map[Unit][2]string{
	BusinessDays:    {"business_day", "business_days"},
	BusinessHours:   {"business_hour", "business_hours"},
	BusinessMinutes: {"business_minute", "business_minutes"},
}

// BusinessUnits lists the business unit names ParseDuration reads.
var BusinessUnits = []string{"business_days", "business_hours", "business_minutes"}

// Duration is a length of time a policy writes: plain wall-clock time, or
// a whole number of business units counted in a calendar's active time.
// The zero Duration is "not set".
type Duration struct {
	wall time.Duration
	n    int64
	unit Unit
}

// Wall is a plain duration of d.
func Wall(d time.Duration) Duration { return Duration{wall: d} }

// Business is n units of active time; u is BusinessDays, BusinessHours or
// BusinessMinutes.
func Business(n int64, u Unit) Duration { return Duration{n: n, unit: u} }

// maxBusiness bounds n so that n units of a 24h day stay far inside
// time.Duration.
const maxBusiness = 100000

// ParseDuration reads a plain duration (ParseWall: 90s, 15m, 1h30m, 7d) or
// a business one: a whole number, a space, and business_days,
// business_hours or business_minutes (singular accepted: 1 business_day).
func ParseDuration(s string) (Duration, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok || !strings.HasPrefix(strings.TrimSpace(unit), "business") {
		w, err := ParseWall(s)
		return Wall(w), err
	}
	unit = strings.TrimSpace(unit)
	var u Unit
	for k, names := range unitNames {
		if unit == names[0] || unit == names[1] {
			u = k
		}
	}
	if u == Plain {
		return Duration{}, fmt.Errorf("%q: unknown unit %q", s, unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > maxBusiness {
		return Duration{}, fmt.Errorf("%q: %q is not a whole number of %s up to %d", s, num, unitNames[u][1], maxBusiness)
	}
	return Business(n, u), nil
}

// IsZero reports whether d is unset (or zero).
func (d Duration) IsZero() bool { return d.wall == 0 && d.n == 0 }

// IsBusiness reports whether d counts active calendar time.
func (d Duration) IsBusiness() bool { return d.unit != Plain }

// Unit is what d counts.
func (d Duration) Unit() Unit { return d.unit }

// Count is the number of business units; 0 for a plain duration.
func (d Duration) Count() int64 { return d.n }

// Wall is the length of a plain duration; 0 for a business one.
func (d Duration) Wall() time.Duration { return d.wall }

// Active is the amount of active time d stands for in c: n × DayLength for
// business days, n hours or minutes otherwise. A plain duration returns its
// wall length (c unused; it may be nil).
func (d Duration) Active(c *Calendar) time.Duration {
	switch d.unit {
	case BusinessDays:
		return time.Duration(d.n) * c.DayLength()
	case BusinessHours:
		return time.Duration(d.n) * time.Hour
	case BusinessMinutes:
		return time.Duration(d.n) * time.Minute
	}
	return d.wall
}

// Exceeded reports whether more than d passed from from to to: wall-clock
// time for a plain d, active time of c for a business one. A zero d is
// never exceeded. A business d with a nil c panics: validation refuses a
// business duration without a calendar.
func (d Duration) Exceeded(c *Calendar, from, to time.Time) bool {
	switch {
	case d.IsZero():
		return false
	case d.unit == Plain:
		return to.Sub(from) > d.wall
	}
	return c.Exceeds(from, to, d.Active(c))
}

// Deadline is the instant at which d has passed since from: from+d for a
// plain d, Calendar.Add for a business one. Past it, Exceeded is true.
func (d Duration) Deadline(c *Calendar, from time.Time) time.Time {
	if d.unit == Plain {
		return from.Add(d.wall)
	}
	return c.Add(from, d.Active(c))
}

// String renders d as ParseDuration reads it: 15m, 1d12h, 2 business_days.
func (d Duration) String() string {
	if d.unit == Plain {
		return FormatWall(d.wall)
	}
	names := unitNames[d.unit]
	if d.n == 1 {
		return "1 " + names[0]
	}
	return fmt.Sprintf("%d %s", d.n, names[1])
}

// ParseWall parses a Go duration (90s, 15m, 1h30m) that may start with a
// whole number of days (7d, 1d12h). Negative durations are refused: every
// duration in a policy file is a length of time.
func ParseWall(s string) (time.Duration, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q is negative", orig)
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration", orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a duration", orig)
	}
	return days + v, nil
}

// FormatWall renders a duration as ParseWall reads it, using days for
// whole days (7d, 1d12h).
func FormatWall(v time.Duration) string {
	day := 24 * time.Hour
	if v >= day {
		days := v / day
		rest := v % day
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%s", days, shortDuration(rest))
	}
	return shortDuration(v)
}

// shortDuration drops zero trailing units: 1h0m0s → 1h, 15m0s → 15m.
func shortDuration(v time.Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Compare ranks bound a, counted in acal, against b, counted in bcal: -1,
// 0 or +1 as a is shorter, equal or longer. ok is false when they cannot be
// ranked without an instant: one plain and one business, or a business one
// without its calendar.
func Compare(a Duration, acal *Calendar, b Duration, bcal *Calendar) (cmp int, ok bool) {
	if a.IsBusiness() != b.IsBusiness() || a.IsBusiness() && (acal == nil || bcal == nil) {
		return 0, false
	}
	x, y := a.Active(acal), b.Active(bcal)
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}
