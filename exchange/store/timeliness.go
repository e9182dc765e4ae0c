package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/exchange-gov/exchange/exchange/sla"
)

// What both backends share of sla.Store: query bounds and the
// assembly of rows; each backend keeps its SQL.

// Micros is t in microseconds since the epoch; the zero time is the
// smallest value.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixMicro()
}

// EventBounds are the microsecond bounds of an event query (unbounded
// sides as the extreme values).
func EventBounds(q sla.EventQuery) (from, to int64) {
	from, to = Micros(q.From), int64(math.MaxInt64)
	if !q.To.IsZero() {
		to = q.To.UnixMicro()
	}
	return from, to
}

// DailyWhere is the WHERE clause of a daily query (or ""), with its
// arguments; ph writes the placeholder of the n-th argument (1-based).
func DailyWhere(q sla.DailyQuery, ph func(n int) string) (string, []any) {
	var conds string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		if conds != "" {
			conds += " AND "
		}
		conds += cond + " " + ph(len(args))
	}
	if q.Dataset != "" {
		add("dataset =", q.Dataset)
	}
	switch q.Agreement {
	case "":
	case sla.AgreementNone:
		add("agreement =", "")
	default:
		add("agreement =", q.Agreement)
	}
	if q.From != "" {
		add("day >=", q.From)
	}
	if q.To != "" {
		add("day <=", q.To)
	}
	if conds == "" {
		return "", nil
	}
	return " WHERE " + conds, args
}

// DailyKey is the key of a daily aggregate row.
type DailyKey struct{ Day, Dataset, Agreement string }

// DailyIndex indexes rows by key.
func DailyIndex(rows []sla.Daily) map[DailyKey]int {
	idx := make(map[DailyKey]int, len(rows))
	for i, r := range rows {
		idx[DailyKey{r.Day, r.Dataset, r.Agreement}] = i
	}
	return idx
}

// AddLag adds a stored lag bucket count to its row (ignored when the row or
// the bucket is unknown).
func AddLag(rows []sla.Daily, idx map[DailyKey]int, k DailyKey, bucket int, n int64) {
	i, ok := idx[k]
	if !ok || bucket < 0 || bucket >= sla.NumLagBuckets {
		return
	}
	rows[i].Lag[bucket] += n
}

// NormalizeNoticeQuery bounds the limit (default and maximum
// sla.MaxNotices).
func NormalizeNoticeQuery(q sla.NoticeQuery) sla.NoticeQuery {
	if q.Limit <= 0 || q.Limit > sla.MaxNotices {
		q.Limit = sla.MaxNotices
	}
	return q
}

// ParseNotice reads a stored notice.
func ParseNotice(id int64, body string) (sla.Notice, error) {
	var n sla.Notice
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return n, fmt.Errorf("notice %s: %w", strconv.FormatInt(id, 10), err)
	}
	n.ID = id
	return n, nil
}
