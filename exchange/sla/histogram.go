package sla

import (
	"math"
	"time"
)

// NumLagBuckets is the number of buckets of a lag histogram; the last one
// has no upper bound.
const NumLagBuckets = 56

// LagBounds are the upper bounds of the lag buckets but the last: bucket k
// holds lags in (LagBounds[k-1], LagBounds[k]], LagBounds[k] = 1 ms·2^(k/2)
// (1 ms, 1.41 ms, 2 ms, … about 37 h). They are stored by index: changing
// them needs a migration of the stored histograms.
var LagBounds = func() [NumLagBuckets - 1]time.Duration {
	var b [NumLagBuckets - 1]time.Duration
	for k := range b {
		b[k] = time.Duration(float64(time.Millisecond) * math.Pow(2, float64(k)/2))
	}
	return b
}()

// Histogram counts lags per bucket (LagBounds).
type Histogram [NumLagBuckets]int64

// LagBucket is the bucket of lag d.
func LagBucket(d time.Duration) int {
	// The bounds grow by √2: the bucket is the first k with d ≤ bound k.
	lo, hi := 0, len(LagBounds)
	for lo < hi {
		mid := (lo + hi) / 2
		if d <= LagBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Observe counts d.
func (h *Histogram) Observe(d time.Duration) { h[LagBucket(d)]++ }

// Add adds o's counts to h.
func (h *Histogram) Add(o *Histogram) {
	for k, n := range o {
		h[k] += n
	}
}

// Count is the number of observations.
func (h *Histogram) Count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 < q ≤ 1): the geometric middle of
// the bucket holding it (the first bucket's is half its bound, the last
// one's is its lower bound). ok is false without observations.
func (h *Histogram) Quantile(q float64) (d time.Duration, ok bool) {
	total := h.Count()
	if total == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen int64
	for k, c := range h {
		seen += c
		if seen < rank {
			continue
		}
		switch k {
		case 0:
			return LagBounds[0] / 2, true
		case len(LagBounds):
			return LagBounds[k-1], true
		}
		return time.Duration(math.Sqrt(float64(LagBounds[k-1]) * float64(LagBounds[k]))), true
	}
	return LagBounds[len(LagBounds)-1], true
}
