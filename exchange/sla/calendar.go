package sla

import "time"

// Calendar measures SLA time: wall time counts every instant, a business
// calendar only its working hours.
type Calendar interface {
	// Deadline is the instant when d of active time has passed since from.
	Deadline(from time.Time, d time.Duration) time.Time
	// Active is the active time between a and b (0 when b is not after a).
	Active(a, b time.Time) time.Duration
}

// WallTime is the calendar without closed hours.
type WallTime struct{}

// Deadline is from + d.
func (WallTime) Deadline(from time.Time, d time.Duration) time.Time { return from.Add(d) }

// Active is b - a, at least 0.
func (WallTime) Active(a, b time.Time) time.Duration { return max(b.Sub(a), 0) }
