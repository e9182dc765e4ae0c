package console

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// periods the overview offers, in days.
var periods = []int{1, 7, 30}

// expiringWithin is how far ahead the overview lists expiring agreements.
const expiringWithin = 30 * 24 * time.Hour

type overviewData struct {
	Days, Periods                   []int
	Period                          int
	Flows                           flowChart
	Delivered, Quarantined, Skipped int64
	Today                           string
	Silent                          []sla.Event
	Expiring                        []stewardship.View
	Integrity                       integritySummary
}

// overview: the flows between agencies over the chosen period, today's
// totals, open silences, agreements expiring within 30 days and the
// ledger's integrity at a glance. Every number comes from the SLA
// aggregates (kept while the ledger is written), the SLA events and the
// agreements' lifecycle, never from the ledger itself, and only what the
// principal's audit scope covers.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	days := 7
	if n, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && (n == 1 || n == 7 || n == 30) {
		days = n
	}
	scope, err := c.cfg.Scope(r)
	if err != nil {
		c.failView(w, r, v, http.StatusForbidden, err.Error())
		return
	}
	now := c.now().UTC()
	d := overviewData{Periods: periods, Period: days, Today: sla.Day(now)}
	list, err := c.cfg.Stewardship.List(ctx, stewardship.ActorOf(v.Principal, true))
	if err == nil {
		var rows []sla.Daily
		rows, err = c.cfg.Store.Daily(ctx, sla.DailyQuery{From: sla.Day(now.AddDate(0, 0, 1-days)), To: sla.Day(now)})
		if err == nil {
			d.Flows = buildFlows(c.cfg.Agencies(), list, volumes(rows, scope))
			d.Delivered, d.Quarantined = totals(rows, scope, d.Today)
			d.Skipped, err = c.skipped(r, scope, d.Today)
		}
	}
	if err == nil {
		d.Silent, err = c.silent(r, scope)
	}
	if err == nil {
		d.Integrity, err = c.integritySummary(r)
	}
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	d.Expiring = expiring(list, now)
	v.Title, v.Nav, v.Data = "Overview", "overview", d
	c.render(w, r, "overview", v)
}

// volumes sums each visible agreement's delivered records (the
// agreement rows' OnTime) over the rows.
func volumes(rows []sla.Daily, scope auditapi.Scope) map[string]int64 {
	out := map[string]int64{}
	for _, row := range rows {
		if row.Agreement != "" && allows(scope, row.Dataset, row.Agreement) {
			out[row.Agreement] += row.OnTime
		}
	}
	return out
}

// totals are today's delivered (agreement rows' OnTime) and quarantined
// (the datasets' rows) records.
func totals(rows []sla.Daily, scope auditapi.Scope, today string) (delivered, quarantined int64) {
	for _, row := range rows {
		if row.Day != today || !allows(scope, row.Dataset, row.Agreement) {
			continue
		}
		if row.Agreement == "" {
			quarantined += row.Quarantined
		} else {
			delivered += row.OnTime
		}
	}
	return delivered, quarantined
}

// skipped is the day's skips of every reason (stale, filter, revoked,
// suspended...) the scope covers, from the daily skip aggregates (one
// primary-key range read).
func (c *Console) skipped(r *http.Request, scope auditapi.Scope, day string) (int64, error) {
	rows, err := c.cfg.Store.Skips(r.Context(), sla.DailyQuery{From: day, To: day})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, row := range rows {
		if allows(scope, row.Dataset, row.Agreement) {
			n += row.Skipped
		}
	}
	return n, nil
}

// allows is the audit API's scope rule for an aggregate row.
func allows(s auditapi.Scope, dataset, agreement string) bool {
	return s.All || s.Datasets[dataset] || (agreement != "" && s.Agreements[agreement])
}

// silent lists the open silences the scope covers.
func (c *Console) silent(r *http.Request, scope auditapi.Scope) ([]sla.Event, error) {
	open, err := c.cfg.Store.OpenSilences(r.Context())
	if err != nil {
		return nil, err
	}
	var out []sla.Event
	for _, e := range open {
		if allows(scope, e.Dataset, e.Agreement) {
			out = append(out, e)
		}
	}
	return out, nil
}

// expiring lists the active agreements whose validity ends within
// expiringWithin of now, soonest first.
func expiring(list []stewardship.View, now time.Time) []stewardship.View {
	var out []stewardship.View
	for _, a := range list {
		if a.Status == string(agreements.StatusActive) && a.ValidUntil != nil &&
			a.ValidUntil.After(now) && a.ValidUntil.Sub(now) <= expiringWithin {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ValidUntil.Before(*out[j].ValidUntil) })
	return out
}
