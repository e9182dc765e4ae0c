// The agreement page's activity chart: records delivered, skipped (every
// reason) and quarantined per day, from the SLA and skip aggregates
// (sla.Daily, sla.SkipDaily, kept while the ledger is written), never from
// the ledger.

package console

import (
	"fmt"
	"math"
	"net/http"

	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// activityDays is how many days the agreement chart shows, today included.
const activityDays = 30

const (
	actW, actH             = 900, 260
	actLeft, actRight      = 56, 12
	actTop, actBottom      = 16, 36
	actTicks               = 4
	actLabelEvery          = 5 // an x label every this many days
	actBarGap, actDayInner = 1.0, 0.8
)

// series of the chart, in bar order: CSS class and legend.
var activitySeries = []struct{ Class, Label string }{
	{"bar-delivered", "delivered"}, {"bar-skipped", "skipped (all reasons)"}, {"bar-quarantined", "quarantined (the dataset's)"},
}

type activityChart struct {
	Width, Height int
	Days          []activityDay
	Max           int64
	Ticks         []chartTick
	Labels        []chartTick
	Series        []struct{ Class, Label string }
	// Quarantines: the principal sees the dataset's quarantines (its
	// provider's stewards, auditors, operators); else that series is empty.
	Quarantines bool
	Any         bool // some day has a record
	Baseline    float64
	Left, Right float64
}

type activityDay struct {
	Day                             string
	Delivered, Skipped, Quarantined int64
	Bars                            []chartBar
}

type chartBar struct {
	Class      string
	X, Y, W, H float64
	Title      string
}

// chartTick is an axis label at a position (Y for the value axis, X for days).
type chartTick struct {
	X, Y  float64
	Label string
}

// agreementActivity reads a's daily aggregates over activityDays (three
// indexed reads: the agreement's rows, its skips, its dataset's own rows)
// and lays the chart out.
func (c *Console) agreementActivity(r *http.Request, a stewardship.View) (activityChart, error) {
	scope, err := c.cfg.Scope(r)
	if err != nil {
		return activityChart{}, err
	}
	now := c.now().UTC()
	from, to := sla.Day(now.AddDate(0, 0, 1-activityDays)), sla.Day(now)
	days := make([]activityDay, activityDays)
	index := map[string]int{}
	for i := range days {
		days[i].Day = sla.Day(now.AddDate(0, 0, i+1-activityDays))
		index[days[i].Day] = i
	}
	rows, err := c.cfg.Store.Daily(r.Context(), sla.DailyQuery{Dataset: a.Provider, Agreement: a.ID, From: from, To: to})
	if err != nil {
		return activityChart{}, err
	}
	for _, row := range rows {
		if i, ok := index[row.Day]; ok {
			days[i].Delivered += row.OnTime
		}
	}
	skips, err := c.cfg.Store.Skips(r.Context(), sla.DailyQuery{Dataset: a.Provider, Agreement: a.ID, From: from, To: to})
	if err != nil {
		return activityChart{}, err
	}
	for _, row := range skips {
		if i, ok := index[row.Day]; ok {
			days[i].Skipped += row.Skipped
		}
	}
	quarantines := allows(scope, a.Provider, "")
	if quarantines {
		rows, err = c.cfg.Store.Daily(r.Context(), sla.DailyQuery{Dataset: a.Provider, Agreement: sla.AgreementNone, From: from, To: to})
		if err != nil {
			return activityChart{}, err
		}
		for _, row := range rows {
			if i, ok := index[row.Day]; ok {
				days[i].Quarantined += row.Quarantined
			}
		}
	}
	return layoutActivity(days, quarantines), nil
}

// layoutActivity places one group of three bars per day on a linear
// value axis from 0 to the largest count.
func layoutActivity(days []activityDay, quarantines bool) activityChart {
	ch := activityChart{Width: actW, Height: actH, Series: activitySeries, Quarantines: quarantines,
		Baseline: actH - actBottom, Left: actLeft, Right: actW - actRight}
	for _, d := range days {
		ch.Max = max(ch.Max, d.Delivered, d.Skipped, d.Quarantined)
	}
	ch.Any = ch.Max > 0
	top := niceStep(float64(ch.Max)/actTicks) * actTicks
	plotH := float64(actH - actTop - actBottom)
	slot := float64(actW-actLeft-actRight) / float64(max(len(days), 1))
	barW := slot*actDayInner/float64(len(activitySeries)) - actBarGap
	for k := 0; k <= actTicks; k++ {
		val := top * float64(k) / actTicks
		ch.Ticks = append(ch.Ticks, chartTick{X: actLeft - 6, Y: ch.Baseline - plotH*float64(k)/actTicks, Label: fmt.Sprintf("%.0f", val)})
	}
	for i := range days {
		d := &days[i]
		x0 := float64(actLeft) + slot*float64(i) + slot*(1-actDayInner)/2
		for s, n := range []int64{d.Delivered, d.Skipped, d.Quarantined} {
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / top
			d.Bars = append(d.Bars, chartBar{Class: activitySeries[s].Class, X: x0 + float64(s)*(barW+actBarGap), Y: ch.Baseline - h, W: barW, H: h,
				Title: fmt.Sprintf("%s: %d %s", d.Day, n, activitySeries[s].Label)})
		}
		if i%actLabelEvery == 0 || i == len(days)-1 {
			ch.Labels = append(ch.Labels, chartTick{X: float64(actLeft) + slot*(float64(i)+0.5), Y: ch.Baseline + 18, Label: d.Day[5:]})
		}
	}
	ch.Days = days
	return ch
}

// niceStep is the smallest of 1, 2 or 5 times a power of ten that is at
// least raw (and at least 1: counts are whole), so the axis' ticks are
// round numbers.
func niceStep(raw float64) float64 {
	if raw <= 1 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}
