package console

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/policy"
)

// qualityPrefix starts the reason code of every quality rule.
var qualityPrefix = policy.QualityReason("")

// qualityPeriods are the periods (days) of the quality and quarantine pages.
var qualityPeriods = []int{7, 30, 90}

// periodFilter is the period and dataset filter of the quality and
// quarantine pages, from the query string.
type periodFilter struct {
	Periods  []int
	Period   int
	Dataset  string
	Datasets []string // those the principal sees in the period, for the filter
	Today    string
	From     string // first day of the period
	Days     []string
}

// Filter is the filter itself (what templates/_period_filter.html gets
// through filterArgs from a page's data that embeds it).
func (f periodFilter) Filter() periodFilter { return f }

func init() {
	funcs["filterArgs"] = func(action string, f periodFilter) map[string]any { return map[string]any{"Action": action, "F": f} }
	funcs["has"] = func(list []string, s string) bool { return slices.Contains(list, s) }
}

func (c *Console) periodFilter(r *http.Request) periodFilter {
	f := periodFilter{Periods: qualityPeriods, Period: 30, Dataset: strings.TrimSpace(r.URL.Query().Get("dataset"))}
	if n, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && slices.Contains(qualityPeriods, n) {
		f.Period = n
	}
	f.Today = sla.Day(c.now())
	f.Days = periodDays(f.Today, f.Period)
	f.From = f.Days[0]
	return f
}

// query is the aggregates' query of the filter.
func (f *periodFilter) query() sla.DailyQuery {
	return sla.DailyQuery{Dataset: f.Dataset, From: f.From, To: f.Today}
}

// failureRow is one quality rule of one dataset over the period.
type failureRow struct {
	Dataset, Rule       string
	Quarantined, Warned int64
	Records             int64   // the dataset's records decided in the period
	Rate                float64 // (Quarantined + Warned) / Records, in %
}

// slaRow is the SLA compliance of a dataset (Agreement empty) or of one
// agreement over the period.
type slaRow struct {
	Dataset, Agreement          string
	Records, OnTime, Stale, Qua int64
	OnTimeRate                  float64 // % of Records
	P50, P95                    string  // lag percentiles, "—" without deliveries
	SilenceMinutes              float64
}

type qualityData struct {
	periodFilter
	Failures    []failureRow
	FailureRate seriesChart
	SLA         []slaRow
	OnTime      seriesChart
	Skips       []skipRow
}

// skipRow is the period's records of a dataset that an agreement did not
// receive for one reason.
type skipRow struct {
	Dataset, Agreement, Reason string
	Skipped                    int64
}

// quality: failure rates by quality rule and dataset over time (the
// per-reason daily aggregates against the datasets' daily records), and
// SLA compliance per dataset and agreement (the SLA aggregates and
// events, what GET /api/v1/sla reads), limited to what the principal's
// audit scope covers. Never a ledger read.
func (c *Console) quality(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	scope, err := c.cfg.Scope(r)
	if err != nil {
		c.failView(w, r, v, http.StatusForbidden, err.Error())
		return
	}
	d := qualityData{periodFilter: c.periodFilter(r)}
	q := d.query()
	var days []sla.DayReport
	var rows []sla.Daily
	var reasons []sla.ReasonDaily
	var skips []sla.SkipDaily
	days, err = sla.Report(ctx, c.cfg.Store, q, nil, c.now())
	if err == nil {
		rows, err = c.cfg.Store.Daily(ctx, q)
	}
	if err == nil {
		reasons, err = c.cfg.Store.Reasons(ctx, q)
	}
	if err == nil {
		skips, err = c.cfg.Store.Skips(ctx, q)
	}
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	days = slices.DeleteFunc(days, func(x sla.DayReport) bool { return !allows(scope, x.Dataset, x.Agreement) })
	rows = slices.DeleteFunc(rows, func(x sla.Daily) bool { return !allows(scope, x.Dataset, x.Agreement) })
	reasons = slices.DeleteFunc(reasons, func(x sla.ReasonDaily) bool {
		return !allows(scope, x.Dataset, "") || !strings.HasPrefix(x.Reason, qualityPrefix)
	})
	d.Datasets = datasetsOf(rows)
	d.Failures, d.FailureRate = failures(&d.periodFilter, rows, reasons)
	d.SLA, d.OnTime = compliance(&d.periodFilter, days, rows)
	d.Skips = skipTotals(skips, scope)
	v.Title, v.Nav, v.Data = "Quality and timeliness", "quality", d
	c.render(w, r, "quality", v)
}

// skipTotals sums the period's skips per dataset, agreement and reason
// the scope covers, largest first.
func skipTotals(rows []sla.SkipDaily, scope auditapi.Scope) []skipRow {
	byKey := map[skipRow]int64{}
	for _, x := range rows {
		if allows(scope, x.Dataset, x.Agreement) {
			byKey[skipRow{Dataset: x.Dataset, Agreement: x.Agreement, Reason: x.Reason}] += x.Skipped
		}
	}
	out := make([]skipRow, 0, len(byKey))
	for k, n := range byKey {
		k.Skipped = n
		out = append(out, k)
	}
	largestFirst(out, func(r skipRow) (float64, string) {
		return float64(r.Skipped), r.Dataset + "\x00" + r.Agreement + "\x00" + r.Reason
	})
	return out
}

// datasetsOf are the datasets of rows, sorted.
func datasetsOf(rows []sla.Daily) []string {
	var out []string
	for _, r := range rows {
		if !slices.Contains(out, r.Dataset) {
			out = append(out, r.Dataset)
		}
	}
	sort.Strings(out)
	return out
}

// recordsByDay are each dataset's records decided per day (its own rows).
func recordsByDay(rows []sla.Daily) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for _, r := range rows {
		if r.Agreement == "" {
			out[[2]string{r.Dataset, r.Day}] += r.Records
		}
	}
	return out
}

// failures are the period's failures per dataset and rule, and the chart
// of each one's daily failure rate.
func failures(f *periodFilter, rows []sla.Daily, reasons []sla.ReasonDaily) ([]failureRow, seriesChart) {
	records := recordsByDay(rows)
	byKey := map[[2]string]*failureRow{}
	perDay := map[string][]float64{}
	var names []string
	dayIdx := indexOf(f.Days)
	for _, x := range reasons {
		k := [2]string{x.Dataset, x.Reason}
		fr := byKey[k]
		name := x.Dataset + " " + x.Reason
		if fr == nil {
			fr = &failureRow{Dataset: x.Dataset, Rule: strings.TrimPrefix(x.Reason, qualityPrefix)}
			byKey[k] = fr
			names = append(names, name)
			perDay[name] = noData(len(f.Days))
			for i, day := range f.Days {
				if records[[2]string{x.Dataset, day}] > 0 {
					perDay[name][i] = 0
				}
			}
		}
		fr.Quarantined += x.Quarantined
		fr.Warned += x.Warned
		if i, ok := dayIdx[x.Day]; ok {
			perDay[name][i] = rate(x.Quarantined+x.Warned, records[[2]string{x.Dataset, x.Day}])
		}
	}
	out := make([]failureRow, 0, len(byKey))
	for k, fr := range byKey {
		for _, day := range f.Days {
			fr.Records += records[[2]string{k[0], day}]
		}
		fr.Rate = rate(fr.Quarantined+fr.Warned, fr.Records)
		out = append(out, *fr)
	}
	largestFirst(out, func(r failureRow) (float64, string) { return r.Rate, r.Dataset + " " + r.Rule })
	sort.Strings(names)
	ch := newSeriesChart("failure-rates", "Quality rule failure rates per day",
		"One line per dataset and quality rule: the share of the dataset's records that failed the rule each day (quarantined or warned).",
		"%", f.Days, names, perDay)
	return out, ch
}

// compliance sums the period's SLA reports per dataset and agreement,
// with lag percentiles of the merged daily histograms, and charts each
// one's daily on-time rate.
func compliance(f *periodFilter, days []sla.DayReport, rows []sla.Daily) ([]slaRow, seriesChart) {
	type key struct{ ds, ag string }
	byKey := map[key]*slaRow{}
	perDay := map[string][]float64{}
	var names []string
	dayIdx := indexOf(f.Days)
	for _, x := range days {
		k := key{x.Dataset, x.Agreement}
		sr := byKey[k]
		name := x.Dataset
		if x.Agreement != "" {
			name += " → " + x.Agreement
		}
		if sr == nil {
			sr = &slaRow{Dataset: x.Dataset, Agreement: x.Agreement}
			byKey[k] = sr
			names = append(names, name)
			perDay[name] = noData(len(f.Days))
		}
		sr.Records += x.Records
		sr.OnTime += x.OnTime
		sr.Stale += x.Stale
		sr.Qua += x.Quarantined
		sr.SilenceMinutes += x.SilenceMinutes
		if i, ok := dayIdx[x.Day]; ok && x.Records > 0 {
			perDay[name][i] = rate(x.OnTime, x.Records)
		}
	}
	lags := map[key]*sla.Histogram{}
	for i := range rows {
		k := key{rows[i].Dataset, rows[i].Agreement}
		if lags[k] == nil {
			lags[k] = &sla.Histogram{}
		}
		lags[k].Add(&rows[i].Lag)
	}
	out := make([]slaRow, 0, len(byKey))
	for k, sr := range byKey {
		sr.OnTimeRate = rate(sr.OnTime, sr.Records)
		sr.P50, sr.P95 = "—", "—"
		if h := lags[k]; h != nil {
			if p, ok := h.Quantile(0.5); ok {
				sr.P50 = p.Round(p / 100).String()
			}
			if p, ok := h.Quantile(0.95); ok {
				sr.P95 = p.Round(p / 100).String()
			}
		}
		out = append(out, *sr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dataset != out[j].Dataset {
			return out[i].Dataset < out[j].Dataset
		}
		return out[i].Agreement < out[j].Agreement
	})
	sort.Strings(names)
	ch := newSeriesChart("on-time", "On-time rate per day",
		"One line per dataset and per agreement: the share of the day's records accepted (a dataset) or delivered (an agreement) on time.",
		"%", f.Days, names, perDay)
	return out, ch
}

// largestFirst sorts rows by their value, largest first, then by name.
func largestFirst[T any](rows []T, key func(T) (float64, string)) {
	sort.Slice(rows, func(i, j int) bool {
		vi, ni := key(rows[i])
		vj, nj := key(rows[j])
		if vi != vj {
			return vi > vj
		}
		return ni < nj
	})
}

// rate is n of total in % (0 when total is 0).
func rate(n, total int64) float64 {
	if total <= 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func indexOf(days []string) map[string]int {
	m := make(map[string]int, len(days))
	for i, d := range days {
		m[d] = i
	}
	return m
}
