package calendar

import (
	"testing"
	"time"
)

// BenchmarkExceeds: a record from Thursday 10:00 checked on Monday 13:00
// (London office hours, Friday a holiday) against 2 business days.
func BenchmarkExceeds(b *testing.B) {
	c := mustNew(b, london, weekdays, []string{"08:00-18:00"}, "2026-06-12")
	event, now := at(b, london, "2026-06-11 10:00"), at(b, london, "2026-06-15 13:00")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Exceeds(event, now, 20*time.Hour)
	}
}

// BenchmarkExceedsRecent: the usual case, a record a minute old.
func BenchmarkExceedsRecent(b *testing.B) {
	c := mustNew(b, london, weekdays, []string{"08:00-18:00"})
	now := at(b, london, "2026-06-15 13:00")
	event := now.Add(-time.Minute)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.Exceeds(event, now, 20*time.Hour)
	}
}
