package policy

import (
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// ageBound is a freshness max age as compiled: a wall-clock length, or an
// amount of active time of a calendar (a business duration, converted once
// at compile time so that each record costs one walk over the days since
// its event time, stopped as soon as the bound is passed).
type ageBound struct {
	wall   time.Duration      // plain bound; 0 when none or in business time
	active time.Duration      // business bound: active time of cal
	cal    *calendar.Calendar // nil: plain
	text   string             // the bound as written, for details
}

func newAgeBound(d calendar.Duration, cal *calendar.Calendar) ageBound {
	switch {
	case d.IsZero():
		return ageBound{}
	case d.IsBusiness() && cal != nil:
		return ageBound{active: d.Active(cal), cal: cal, text: d.String()}
	}
	return ageBound{wall: d.Wall(), text: d.String()}
}

// exceeded reports whether more than the bound passed from eventTime to
// now. A future event time has no age: it is never stale (the skew check
// quarantines it first when it is too far ahead).
func (b *ageBound) exceeded(eventTime, now time.Time) bool {
	if b.cal != nil {
		return b.cal.Exceeds(eventTime, now, b.active)
	}
	return b.wall > 0 && now.Sub(eventTime) > b.wall
}
