package auditapi

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
)

// The timeliness endpoints:
//
//	GET /api/v1/sla?dataset=&agreement=&from=&to=         SLA compliance per day (from the daily aggregates)
//	GET /api/v1/sla/events?dataset=&from=&to=             silences (SLA events)
//	GET /api/v1/notices?agency=&since=&after=&limit=      what an agency was told on notices.<agency>

// WithTimeliness serves the SLA and notice endpoints from st (default: they
// answer 404).
func WithTimeliness(st sla.Store) Option { return func(h *Handler) { h.timeliness = st } }

// WithClock sets the clock that bounds open silences (default time.Now).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

var (
	slaParams       = map[string]bool{"dataset": true, "agreement": true, "from": true, "to": true}
	slaEventParams  = map[string]bool{"dataset": true, "from": true, "to": true}
	noticeParams    = map[string]bool{"agency": true, "since": true, "after": true, "limit": true}
	errNoTimeliness = errors.New("SLA and notices are not served by this exchange")
)

// SLAReport is the answer of /api/v1/sla.
type SLAReport struct {
	Days []sla.DayReport `json:"days"`
	// LagBucketsSeconds are the upper bounds of the lag histogram's
	// buckets: the percentiles' precision.
	LagBucketsSeconds []float64 `json:"lag_buckets_seconds"`
}

// SLAEvents is the answer of /api/v1/sla/events.
type SLAEvents struct {
	Events []SLAEvent `json:"events"`
}

// SLAEvent is one silence.
type SLAEvent struct {
	Dataset   string     `json:"dataset"`
	Agreement string     `json:"agreement"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end,omitempty"`
	// DurationSeconds lasts up to now while the silence does.
	DurationSeconds float64 `json:"duration_seconds"`
}

// Notices is the answer of /api/v1/notices; pass next as after= for the
// following page.
type Notices struct {
	Notices []sla.Notice `json:"notices"`
	Next    int64        `json:"next,omitempty"`
}

// SLA serves GET /api/v1/sla.
func (h *Handler) SLA() http.Handler {
	return h.timelinessHandler(slaParams, func(w http.ResponseWriter, r *http.Request, v url.Values) {
		q := sla.DailyQuery{Dataset: v.Get("dataset"), Agreement: v.Get("agreement"), From: v.Get("from"), To: v.Get("to")}
		for name, d := range map[string]string{"from": q.From, "to": q.To} {
			if _, err := time.Parse(sla.DayLayout, d); d != "" && err != nil {
				writeError(w, http.StatusBadRequest, name+": want a date, e.g. 2026-11-27")
				return
			}
		}
		scope, ok := h.scopeOf(w, r)
		if !ok {
			return
		}
		days, err := sla.Report(r.Context(), h.timeliness, q, nil, h.now())
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		days = slices.DeleteFunc(days, func(d sla.DayReport) bool { return !scope.allows(d.Dataset, d.Agreement) })
		rep := SLAReport{Days: days, LagBucketsSeconds: make([]float64, len(sla.LagBounds))}
		if rep.Days == nil {
			rep.Days = []sla.DayReport{}
		}
		for i, b := range sla.LagBounds {
			rep.LagBucketsSeconds[i] = b.Seconds()
		}
		writeJSON(w, http.StatusOK, rep)
	})
}

// SLAEvents serves GET /api/v1/sla/events.
func (h *Handler) SLAEvents() http.Handler {
	return h.timelinessHandler(slaEventParams, func(w http.ResponseWriter, r *http.Request, v url.Values) {
		q := sla.EventQuery{Dataset: v.Get("dataset")}
		var err error
		if q.From, err = parseTime(v, "from"); err == nil {
			q.To, err = parseTime(v, "to")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		scope, ok := h.scopeOf(w, r)
		if !ok {
			return
		}
		events, err := h.timeliness.Events(r.Context(), q)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		events = slices.DeleteFunc(events, func(e sla.Event) bool { return !scope.allows(e.Dataset, e.Agreement) })
		now := h.now()
		out := SLAEvents{Events: make([]SLAEvent, 0, len(events))}
		for _, e := range events {
			se := SLAEvent{Dataset: e.Dataset, Agreement: e.Agreement, Start: e.Start, DurationSeconds: e.Duration(now).Seconds()}
			if !e.Open() {
				end := e.End
				se.End = &end
			}
			out.Events = append(out.Events, se)
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// Notices serves GET /api/v1/notices: an agency (or its steward) reads its
// own notices, agency= defaulting to its own; a scope that sees all
// (auditors, operators) names the agency.
func (h *Handler) Notices() http.Handler {
	return h.timelinessHandler(noticeParams, func(w http.ResponseWriter, r *http.Request, v url.Values) {
		scope, ok := h.scopeOf(w, r)
		if !ok {
			return
		}
		q := sla.NoticeQuery{Agency: v.Get("agency")}
		if !scope.All {
			if q.Agency != "" && q.Agency != scope.Agency {
				writeRefusal(w, auth.Forbidden("agency", fmt.Sprintf("%s reads only the notices of agency %s", scope.Who, scope.Agency)))
				return
			}
			q.Agency = scope.Agency
		}
		if q.Agency == "" {
			writeError(w, http.StatusBadRequest, "agency: required")
			return
		}
		var err error
		if q.Since, err = parseTime(v, "since"); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if s := v.Get("after"); s != "" {
			if q.After, err = strconv.ParseInt(s, 10, 64); err != nil || q.After < 0 {
				writeError(w, http.StatusBadRequest, "after: want a non-negative integer")
				return
			}
		}
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > sla.MaxNotices {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: want 1 to %d", sla.MaxNotices))
				return
			}
			q.Limit = n
		}
		ns, err := h.timeliness.Notices(r.Context(), q)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		out := Notices{Notices: ns}
		if out.Notices == nil {
			out.Notices = []sla.Notice{}
		}
		if limit := cmp.Or(q.Limit, sla.MaxNotices); len(ns) == limit {
			out.Next = ns[len(ns)-1].ID
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// timelinessHandler checks the method and the parameters, then serves.
func (h *Handler) timelinessHandler(allowed map[string]bool, serve func(http.ResponseWriter, *http.Request, url.Values)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !getOnly(w, r) {
			return
		}
		if h.timeliness == nil {
			writeError(w, http.StatusNotFound, errNoTimeliness.Error())
			return
		}
		v := r.URL.Query()
		if err := checkParams(v, allowed); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		serve(w, r, v)
	})
}

// parseTime reads an optional RFC 3339 parameter.
func parseTime(v url.Values, name string) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time, e.g. 2026-11-27T00:00:00Z", name)
	}
	return t, nil
}
