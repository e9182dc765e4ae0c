// Package calendar measures time the way public-sector SLAs count it: in
// working days and office hours of one timezone, minus public holidays.
//
// A Calendar is immutable and safe for concurrent use. It is built from
// parsed parts (New), usually by the agreements loader from a policy
// document of `kind: Calendar`:
//
//	kind: Calendar
//	id: national-working-days
//	timezone: Europe/London
//	days: [mon, tue, wed, thu, fri]
//	hours: ["08:00-12:30", "13:30-18:00"]
//	holidays: [2026-12-25, 2026-12-28]
//	holidays_file: bank-holidays.ics
//
// Working hours are wall-clock times of the calendar's timezone, the same
// on every working day; a DST change therefore moves them with the clocks,
// and a day whose hours contain the skipped or repeated hour has less or
// more active time than DayLength. Holidays are whole local dates.
//
// A Duration is either plain (a wall-clock length, 15m, 7d) or business
// (`2 business_days`, `4 business_hours`, `30 business_minutes`): an amount
// of active calendar time, a business day being DayLength of it. Only
// business durations need a calendar.
//
// # Usage
//
//	cal.Active(t)                 // is t inside working hours of a working day?
//	cal.Between(a, b)             // active time in [a, b)
//	cal.Add(t, 4*time.Hour)       // when 4 h of active time have passed since t
//	d, _ := calendar.ParseDuration("2 business_days")
//	d.Exceeded(cal, eventTime, now) // stale: more than d passed (in active time)
//	d.Deadline(cal, lastRecord)     // the instant silence starts
//
// The package does no I/O except ReadHolidays, which parses an iCalendar
// stream handed in by the caller. It embeds the IANA time zone database
// (time/tzdata), so timezones load on hosts without zoneinfo.
package calendar
