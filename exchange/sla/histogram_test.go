package sla

import (
	"testing"
	"time"
)

// TestHistogramPrecision: the reported quantile is within ±19 % of the
// true one over the whole range.
func TestHistogramPrecision(t *testing.T) {
	for _, d := range []time.Duration{1500 * time.Microsecond, 7 * time.Millisecond, 333 * time.Millisecond, 2 * time.Second,
		47 * time.Second, 13 * time.Minute, 5 * time.Hour} {
		var h Histogram
		h.Observe(d)
		got, ok := h.Quantile(0.5)
		if !ok || float64(got) < float64(d)/1.19 || float64(got) > float64(d)*1.19 {
			t.Errorf("lag %v reported as %v", d, got)
		}
	}
	var h Histogram
	if _, ok := h.Quantile(0.95); ok {
		t.Error("a quantile of nothing")
	}
	h.Observe(0)
	h.Observe(100 * time.Hour)
	if lo, _ := h.Quantile(0.5); lo > time.Millisecond {
		t.Errorf("p50 of {0, 100h} = %v", lo)
	}
	if hi, _ := h.Quantile(1); hi != LagBounds[len(LagBounds)-1] {
		t.Errorf("p100 beyond the last bound = %v, want %v", hi, LagBounds[len(LagBounds)-1])
	}
}
