package calendar

import (
	"math"
	"time"
)

// clock turns local wall times of a calendar into instants. It keeps the
// zone period (offset and bounds) of its last lookup and reuses it while the
// instants stay inside it: a walk over days then costs one zone lookup per
// DST period instead of two per working-hours span, which keeps the
// business-time freshness check cheap on the record path.
type clock struct {
	loc      *time.Location
	offset   int64 // seconds east of UTC in the cached period
	from, to int64 // the cached period [from, to), unix seconds
	valid    bool
}

// at is the instant of minute min after local midnight of d (as Date.at,
// including its normalisation of wall times a DST change skips).
func (k *clock) at(d Date, min int) time.Time {
	civil := d.unixDays()*86400 + int64(min)*60
	if k.valid {
		if u := civil - k.offset; u >= k.from && u < k.to {
			return time.Unix(u, 0).In(k.loc)
		}
	}
	t := d.at(min, k.loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	k.offset, k.from, k.to, k.valid = int64(off), math.MinInt64, math.MaxInt64, true
	if !start.IsZero() {
		k.from = start.Unix()
	}
	if !end.IsZero() {
		k.to = end.Unix()
	}
	return t
}
