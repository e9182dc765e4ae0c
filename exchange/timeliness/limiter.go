package timeliness

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// DefaultNoticesPerMinute is how many individual quarantine notices a
// dataset's owner gets per minute before the rest of the minute is summed
// up per reason.
const DefaultNoticesPerMinute = 20

// Limiter bounds the quarantine notices of a flood: per dataset, at most
// PerWindow individual notices per Window; the records beyond are counted
// per reason code and reported as one summary per reason once the window
// is over (Due). Not safe for concurrent use.
type Limiter struct {
	PerWindow int
	Window    time.Duration
	windows   map[string]*window
	ended     []Summary
}

type window struct {
	start      time.Time
	sent       int
	suppressed map[string]int64 // per reason code
}

// Summary is the count of a dataset's records quarantined for one reason
// in [Start, End) beyond the individual notices.
type Summary struct {
	Dataset, Reason string
	Count           int64
	Start, End      time.Time
}

// NewLimiter returns a limiter of perWindow notices per dataset per window.
func NewLimiter(perWindow int, per time.Duration) *Limiter {
	return &Limiter{PerWindow: perWindow, Window: per, windows: map[string]*window{}}
}

// Admit reports whether a record of dataset quarantined at now for
// reasons gets an individual notice; when not, it is counted under each of
// its reasons for the window's summaries.
func (l *Limiter) Admit(dataset string, reasons []string, now time.Time) bool {
	w := l.windows[dataset]
	if w != nil && !now.Before(w.start.Add(l.Window)) {
		l.close(dataset, w)
		w = nil
	}
	if w == nil {
		w = &window{start: now, suppressed: map[string]int64{}}
		l.windows[dataset] = w
	}
	if w.sent < l.PerWindow {
		w.sent++
		return true
	}
	for _, r := range reasons {
		w.suppressed[r]++
	}
	return false
}

// close moves an ended window's counts to the summaries due.
func (l *Limiter) close(dataset string, w *window) {
	end := w.start.Add(l.Window)
	for _, r := range slices.Sorted(maps.Keys(w.suppressed)) {
		l.ended = append(l.ended, Summary{Dataset: dataset, Reason: r, Count: w.suppressed[r], Start: w.start, End: end})
	}
	delete(l.windows, dataset)
}

// Due returns the summaries of every window over by now, and forgets them.
func (l *Limiter) Due(now time.Time) []Summary {
	for _, ds := range slices.Sorted(maps.Keys(l.windows)) {
		if w := l.windows[ds]; !now.Before(w.start.Add(l.Window)) {
			l.close(ds, w)
		}
	}
	out := l.ended
	l.ended = nil
	return out
}

// joinCodes is the reason field of a notice for several reasons.
func joinCodes(codes []string) string { return strings.Join(codes, ",") }
