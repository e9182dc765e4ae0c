package calendar

import (
	"fmt"
	"strings"
	"time"
)

// DayNames are the working-day names a calendar document uses, Sunday first
// (indexed by time.Weekday).
var DayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseDay parses a day name: mon, tue, wed, thu, fri, sat or sun
// (case-insensitive).
func ParseDay(s string) (time.Weekday, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	for i, n := range DayNames {
		if ls == n {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a day name", s)
}

// ParseSpan parses working hours "HH:MM-HH:MM" (24-hour clock, 24:00 allowed
// as the end). Ranges do not wrap past midnight: write two.
func ParseSpan(s string) (Span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Span{}, fmt.Errorf("%q is not a range of hours HH:MM-HH:MM", s)
	}
	start, err := parseClock(strings.TrimSpace(from))
	if err != nil {
		return Span{}, fmt.Errorf("hours %q: %w", s, err)
	}
	end, err := parseClock(strings.TrimSpace(to))
	if err != nil {
		return Span{}, fmt.Errorf("hours %q: %w", s, err)
	}
	sp := Span{start, end}
	if end <= start {
		return sp, fmt.Errorf("hours %q end before they start (a range does not wrap past midnight)", s)
	}
	return sp, nil
}

// parseClock parses HH:MM into minutes after midnight; 24:00 is the end of
// the day.
func parseClock(s string) (int, error) {
	digit := func(i int) (int, bool) { return int(s[i] - '0'), s[i] >= '0' && s[i] <= '9' }
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	h1, ok1 := digit(0)
	h2, ok2 := digit(1)
	m1, ok3 := digit(3)
	m2, ok4 := digit(4)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, fmt.Errorf("%q is not a time HH:MM", s)
	}
	h, m := h1*10+h2, m1*10+m2
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day (00:00 to 24:00)", s)
	}
	return h*60 + m, nil
}
