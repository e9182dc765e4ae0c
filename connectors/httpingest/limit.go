package httpingest

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters are the principals' token buckets, in records. Only principals
// that passed authorization (publishers of a dataset's owner) get one, so
// the map is bounded by the policy's publishers.
type limiters struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, by: map[string]*rate.Limiter{}}
}

// take spends n tokens of principal's bucket at now, or spends none and
// says how long until they would be there.
func (l *limiters) take(principal string, n int, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	lim := l.by[principal]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.by[principal] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return false, time.Second // n > burst: Validate keeps burst ≥ max_records
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
