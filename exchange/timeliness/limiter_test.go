package timeliness

import (
	"testing"
	"time"
)

// TestLimiterBoundsAFlood: 100,000 bad records of one dataset within a
// minute yield PerWindow individual notices and one summary per reason,
// whose counts add up to the rest.
func TestLimiterBoundsAFlood(t *testing.T) {
	l := NewLimiter(DefaultNoticesPerMinute, time.Minute)
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	admitted := 0
	const flood = 100_000
	for i := range flood {
		reasons := []string{"quality:age_in_range"}
		if i%2 == 1 {
			reasons = []string{"decode:malformed"}
		}
		if l.Admit("health.immunisations", reasons, start.Add(time.Duration(i)*time.Microsecond*500)) {
			admitted++
		}
	}
	if admitted != DefaultNoticesPerMinute {
		t.Fatalf("%d individual notices, want %d", admitted, DefaultNoticesPerMinute)
	}
	if due := l.Due(start.Add(59 * time.Second)); len(due) != 0 {
		t.Fatalf("summaries before the window ended: %+v", due)
	}
	due := l.Due(start.Add(time.Minute))
	var sum int64
	for _, s := range due {
		sum += s.Count
		if !s.Start.Equal(start) || !s.End.Equal(start.Add(time.Minute)) {
			t.Errorf("summary window %v–%v", s.Start, s.End)
		}
	}
	if len(due) != 2 || sum != flood-DefaultNoticesPerMinute {
		t.Fatalf("summaries %+v (total %d), want 2 adding up to %d", due, sum, flood-DefaultNoticesPerMinute)
	}
	// A new window admits again; other datasets never waited.
	if !l.Admit("health.immunisations", []string{"decode:malformed"}, start.Add(61*time.Second)) || !l.Admit("tax.x", nil, start) {
		t.Fatal("a new window or another dataset was refused")
	}
	if due := l.Due(start.Add(2 * time.Minute)); len(due) != 0 {
		t.Fatalf("summaries of windows without excess: %+v", due)
	}
}
