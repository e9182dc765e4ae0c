package agreements

import (
	"fmt"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// ParseDuration parses a Go duration (90s, 15m, 1h30m) that may start with a
// whole number of days (7d, 1d12h). Negative durations are refused: every
// duration in a policy file is a length of time. Business durations
// (2 business_days) are calendar.ParseDuration's.
func ParseDuration(s string) (time.Duration, error) { return calendar.ParseWall(s) }

// ParseTime parses an RFC 3339 timestamp, or a plain date (2026-01-01) as
// midnight UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return t, nil
}

// FormatDuration renders a duration as ParseDuration reads it, using days
// for whole days (7d, 1d12h).
func FormatDuration(v time.Duration) string { return calendar.FormatWall(v) }

// suggestHint returns a did-you-mean hint for word among candidates, or the
// list of candidates when none is close.
func suggestHint(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "expected one of: " + strings.Join(candidates, ", ")
}

// suggest returns the candidate closest to word by edit distance, if it is
// close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(word) <= 4 {
		limit = 1
	}
	if len(word) >= 10 {
		limit = 3
	}
	if bestD >= 0 && bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance of two strings, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 || len(rb) > 256 {
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
