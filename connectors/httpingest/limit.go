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

// prune forgets the buckets that are full at now: their principals are
// idle, and a new bucket starts full, so nothing changes for them. It
// keeps the map to the principals active within a refill.
func (l *limiters) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, lim := range l.by {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.by, p)
		}
	}
}

// retryAfterSeconds is a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
