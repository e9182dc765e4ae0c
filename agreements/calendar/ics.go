package calendar

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	ical "github.com/emersion/go-ical"
)

// Recurring all-day events (RRULE) are expanded over these years: wide
// enough for any SLA, bounded so that a rule without an end stays cheap.
const (
	icsFirstYear      = 2000
	icsLastYear       = 2100
	maxICSOccurrences = 20000
)

// ReadHolidays reads an iCalendar stream and returns the dates of its
// all-day events (DTSTART;VALUE=DATE), each day from DTSTART up to the
// exclusive DTEND, recurrences (RRULE, EXDATE) expanded over 2000–2100.
// Events with a time of day are not holidays and are skipped; skipped
// counts them. A stream that is not iCalendar, or an all-day event whose
// dates cannot be read, is an error naming the event's UID or SUMMARY.
func ReadHolidays(r io.Reader) (dates []Date, skipped int, err error) {
	cal, err := ical.NewDecoder(r).Decode()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, 0, errors.New("not iCalendar: the file ends before END:VCALENDAR")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("not iCalendar: %w", err)
	}
	seen := map[Date]bool{}
	for _, ev := range cal.Events() {
		start := ev.Props.Get(ical.PropDateTimeStart)
		if start == nil || start.ValueType() != ical.ValueDate && len(start.Value) != len("20060102") {
			skipped++
			continue
		}
		days, err := eventDays(ev)
		if err != nil {
			return nil, 0, fmt.Errorf("event %s: %w", eventName(ev), err)
		}
		for _, d := range days {
			if !seen[d] {
				seen[d] = true
				dates = append(dates, d)
			}
		}
		if len(dates) > maxICSOccurrences {
			return nil, 0, fmt.Errorf("more than %d holidays", maxICSOccurrences)
		}
	}
	sort.Slice(dates, func(i, j int) bool { return dates[i].Before(dates[j]) })
	return dates, skipped, nil
}

// eventDays lists the dates an all-day event covers, with its recurrences.
func eventDays(ev ical.Event) ([]Date, error) {
	start, err := ev.DateTimeStart(time.UTC)
	if err != nil {
		return nil, fmt.Errorf("DTSTART: %w", err)
	}
	end, err := ev.DateTimeEnd(time.UTC)
	if err != nil {
		return nil, fmt.Errorf("DTEND: %w", err)
	}
	length := int(end.Sub(start).Hours()+0.5) / 24
	if length < 1 {
		length = 1
	}
	if length > 366 {
		return nil, fmt.Errorf("an all-day event of %d days is not a holiday", length)
	}
	starts := []time.Time{start}
	set, err := ev.RecurrenceSet(time.UTC)
	if err != nil {
		return nil, err
	}
	if set != nil {
		from := time.Date(icsFirstYear, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(icsLastYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
		starts = set.Between(from, to, true)
	}
	var out []Date
	for _, s := range starts {
		for i := 0; i < length; i++ {
			out = append(out, DateOf(s.AddDate(0, 0, i)))
		}
		if len(out) > maxICSOccurrences {
			return nil, fmt.Errorf("more than %d holidays", maxICSOccurrences)
		}
	}
	return out, nil
}

func eventName(ev ical.Event) string {
	for _, p := range []string{ical.PropUID, ical.PropSummary} {
		if v, err := ev.Props.Text(p); err == nil && v != "" {
			return fmt.Sprintf("%q", v)
		}
	}
	return "(no UID)"
}
