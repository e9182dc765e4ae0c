package agreements

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// MaxICSSize bounds a holidays file: a national calendar for a century is
// well under it.
const MaxICSSize = 4 << 20

var calendarKeys = []string{"kind", "id", "description", "timezone", "days", "hours", "holidays", "holidays_file"}

// calendarParts is what a calendar document decodes to, before building.
type calendarParts struct {
	loc      *time.Location
	days     []time.Weekday
	spans    []calendar.Span
	holidays []calendar.Date
}

// calendar decodes a Calendar document and, when every part decoded,
// builds it.
func (d *decoder) calendar(n *yaml.Node) Calendar {
	c := Calendar{Pos: d.pos(n), KeyPos: map[string]Pos{}}
	var parts calendarParts
	before := len(d.probs)
	d.mapping(n, "Calendar", calendarKeys, c.KeyPos, "", func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			c.ID = d.str(v, "id")
		case "description":
			c.Description = d.str(v, "description")
		case "timezone":
			c.Timezone = d.str(v, "timezone")
			parts.loc = d.timezone(v, c.Timezone)
		case "days":
			c.Days, parts.days = d.weekdays(v)
		case "hours":
			c.Hours, parts.spans = d.hours(v)
		case "holidays":
			var dates []calendar.Date
			c.Holidays, dates = d.holidayDates(v)
			parts.holidays = append(parts.holidays, dates...)
		case "holidays_file":
			c.HolidaysFile = d.str(v, "holidays_file")
			parts.holidays = append(parts.holidays, d.holidaysFile(v, c.HolidaysFile)...)
		}
	})
	if len(d.probs) > before || parts.loc == nil || len(parts.days) == 0 {
		return c // reported here, or missing keys that Validate reports
	}
	built, err := calendar.New(c.ID, parts.loc, parts.days, parts.spans, parts.holidays)
	if err != nil {
		d.problem(c.Pos, "correct the calendar", "%v", err)
		return c
	}
	c.built = built
	return c
}

// timezone loads an IANA timezone; Local is refused (it depends on the host).
func (d *decoder) timezone(n *yaml.Node, name string) *time.Location {
	if name == "" {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		d.problem(d.pos(n), "write an IANA timezone name such as Europe/London, America/New_York or UTC", "unknown timezone %q", name)
		return nil
	}
	return loc
}

// items returns the entries of a list, or the node itself when it is a
// single scalar (hours: "08:00-18:00").
func (d *decoder) items(n *yaml.Node, what string) []*yaml.Node {
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	case n.Kind == yaml.ScalarNode:
		return []*yaml.Node{n}
	}
	d.problem(d.pos(n), "write a list such as [a, b]", "%s must be a list, not a %s", what, kindName(n))
	return nil
}

func (d *decoder) weekdays(n *yaml.Node) ([]string, []time.Weekday) {
	var names []string
	var days []time.Weekday
	seen := map[time.Weekday]bool{}
	for _, item := range d.items(n, "days") {
		s := d.str(item, "days entry")
		names = append(names, s)
		wd, err := calendar.ParseDay(s)
		switch {
		case err != nil:
			d.problem(d.pos(item), suggestHint(s, calendar.DayNames), "unknown day %q", s)
		case seen[wd]:
			d.problem(d.pos(item), "list each day once", "day %q is listed twice", s)
		default:
			seen[wd] = true
			days = append(days, wd)
		}
	}
	return names, days
}

func (d *decoder) hours(n *yaml.Node) ([]string, []calendar.Span) {
	var texts []string
	var spans []calendar.Span
	for _, item := range d.items(n, "hours") {
		s := d.str(item, "hours entry")
		texts = append(texts, s)
		sp, err := calendar.ParseSpan(s)
		if err != nil {
			d.problem(d.pos(item), `write a range of the 24-hour clock such as "08:00-18:00"; split a range that passes midnight in two`, "%v", err)
			continue
		}
		if err := calendar.CheckSpans(append(spans, sp)); err != nil {
			d.problem(d.pos(item), "working hours of a day do not overlap; merge or shorten them", "%v", err)
			continue
		}
		spans = append(spans, sp)
	}
	return texts, spans
}

func (d *decoder) holidayDates(n *yaml.Node) ([]string, []calendar.Date) {
	var texts []string
	var dates []calendar.Date
	for _, item := range d.items(n, "holidays") {
		s := d.str(item, "holidays entry")
		texts = append(texts, s)
		dt, err := calendar.ParseDate(s)
		if err != nil {
			d.problem(d.pos(item), "write dates as YYYY-MM-DD, e.g. 2026-12-25", "holiday %v", err)
			continue
		}
		dates = append(dates, dt)
	}
	return texts, dates
}

// holidaysFile reads the all-day events of an iCalendar file named
// relative to the document's file.
func (d *decoder) holidaysFile(n *yaml.Node, name string) []calendar.Date {
	if name == "" {
		return nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(d.file), name)
	}
	data, err := readBounded(path, MaxICSSize)
	if err != nil {
		d.problem(d.pos(n), "name an iCalendar (.ics) file, relative to this file, that the exchange can read", "holidays_file: %v", err)
		return nil
	}
	dates, _, err := calendar.ReadHolidays(bytes.NewReader(data))
	if err != nil {
		d.problem(d.pos(n), "export the holidays as an iCalendar file of all-day events (BEGIN:VCALENDAR … DTSTART;VALUE=DATE:20261225 …)", "holidays_file %s: %v", name, err)
		return nil
	}
	return dates
}

// readBounded reads a whole file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
