package agreements

import (
	"github.com/exchange-gov/exchange/agreements/calendar"
)

// calendars checks each Calendar document: its id, that it names a
// timezone and working days (their values the loader checked), and that
// ids are unique.
func (v *validator) calendars() {
	first := map[string]Pos{}
	for i := range v.set.Calendars {
		c := &v.set.Calendars[i]
		v.slugID("calendar", c.ID, "national-working-days", c.Pos, c.KeyPos, c.invalid, first)
		label := c.ID
		if label == "" {
			label = "(no id)"
		}
		if c.Timezone == "" && !c.invalid["timezone"] {
			v.add(c.Pos, "add timezone: <IANA name>, e.g. Europe/London", "calendar %s has no timezone", label)
		}
		if len(c.Days) == 0 && !c.invalid["days"] {
			v.add(at(c.KeyPos, "days", c.Pos), "list the working days, e.g. days: [mon, tue, wed, thu, fri]", "calendar %s has no working days", label)
		}
		v.text(at(c.KeyPos, "description", c.Pos), "calendar description", c.Description, true)
	}
}

func (v *validator) calendarIDs() []string {
	ids := make([]string, 0, len(v.set.Calendars))
	for _, c := range v.set.Calendars {
		if c.ID != "" && !contains(ids, c.ID) {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// freshnessCalendar checks a freshness block's calendar: a named calendar
// is declared, and a business duration (max_age, expected_every) has a
// calendar to count in. what names the block ("freshness of health.x").
func (v *validator) freshnessCalendar(keyPos map[string]Pos, fallback Pos, invalid map[string]bool, what, calID string, maxAge, every calendar.Duration) {
	if calID != "" && !invalid["freshness.calendar"] {
		if _, ok := v.set.Calendar(calID); !ok {
			v.add(at(keyPos, "freshness.calendar", fallback), suggestHintOr(calID, v.calendarIDs(), "declare it in a document of kind: Calendar, or correct the id"), "%s: calendar %q is not a declared calendar", what, calID)
		}
		return
	}
	for _, k := range []struct {
		key string
		d   calendar.Duration
	}{{"max_age", maxAge}, {"expected_every", every}} {
		if k.d.IsBusiness() && calID == "" {
			v.add(at(keyPos, "freshness."+k.key, fallback), "add calendar: <id> under freshness, naming a document of kind: Calendar", "%s: %s %s counts business time but names no calendar", what, k.key, k.d)
		}
	}
}

// looser reports whether bound a is looser than b, each counted in its own
// calendar. Plain and business time cannot be ranked without an instant:
// they are not compared (each applies in its own right at run time).
func looser(a calendar.Duration, acal *calendar.Calendar, b calendar.Duration, bcal *calendar.Calendar) bool {
	if a.IsZero() || b.IsZero() {
		return false
	}
	cmp, ok := calendar.Compare(a, acal, b, bcal)
	return ok && cmp > 0
}
