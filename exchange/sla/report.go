package sla

import (
	"context"
	"fmt"
	"time"
)

// DayReport is one day's SLA compliance of a dataset (Agreement empty) or
// of one agreement of it, as GET /api/v1/sla serves it.
type DayReport struct {
	Day         string `json:"day"`
	Dataset     string `json:"dataset"`
	Agreement   string `json:"agreement"`
	Records     int64  `json:"records"`
	OnTime      int64  `json:"on_time"`
	Stale       int64  `json:"stale"`
	Quarantined int64  `json:"quarantined"`
	// Deliveries is the number of lags behind the percentiles.
	Deliveries int64 `json:"deliveries"`
	// LagP50Seconds and LagP95Seconds: publish→delivery lag percentiles
	// (±19 %, see LagBounds); absent without deliveries.
	LagP50Seconds *float64 `json:"lag_p50_seconds,omitempty"`
	LagP95Seconds *float64 `json:"lag_p95_seconds,omitempty"`
	// SilenceMinutes: minutes of the day (UTC) the dataset (or the
	// agreement) was silent.
	SilenceMinutes float64 `json:"silence_minutes"`
}

// Report returns the day reports of q: the stored aggregates, with the
// silence minutes of each day from the SLA events (measured in cal; nil:
// wall time), at now (a silence still open counts up to now).
func Report(ctx context.Context, st Store, q DailyQuery, cal Calendar, now time.Time) ([]DayReport, error) {
	if cal == nil {
		cal = WallTime{}
	}
	rows, err := st.Daily(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading SLA aggregates: %w", err)
	}
	eq := EventQuery{Dataset: q.Dataset}
	if q.From != "" {
		if eq.From, err = time.Parse(DayLayout, q.From); err != nil {
			return nil, err
		}
	}
	if q.To != "" {
		if eq.To, err = time.Parse(DayLayout, q.To); err != nil {
			return nil, err
		}
		eq.To = eq.To.AddDate(0, 0, 1)
	}
	events, err := st.Events(ctx, eq)
	if err != nil {
		return nil, fmt.Errorf("reading SLA events: %w", err)
	}
	out := make([]DayReport, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		d := DayReport{Day: r.Day, Dataset: r.Dataset, Agreement: r.Agreement, Records: r.Records, OnTime: r.OnTime,
			Stale: r.Stale, Quarantined: r.Quarantined, Deliveries: r.Lag.Count()}
		if p, ok := r.Lag.Quantile(0.5); ok {
			s := p.Seconds()
			d.LagP50Seconds = &s
		}
		if p, ok := r.Lag.Quantile(0.95); ok {
			s := p.Seconds()
			d.LagP95Seconds = &s
		}
		d.SilenceMinutes = silenceMinutes(events, r, cal, now)
		out = append(out, d)
	}
	return out, nil
}

// silenceMinutes sums the events of r's dataset and agreement over r's day.
func silenceMinutes(events []Event, r *Daily, cal Calendar, now time.Time) float64 {
	day, err := time.Parse(DayLayout, r.Day)
	if err != nil {
		return 0
	}
	next := day.AddDate(0, 0, 1)
	var total time.Duration
	for _, e := range events {
		if e.Dataset != r.Dataset || e.Agreement != r.Agreement {
			continue
		}
		end := e.End
		if e.Open() {
			end = now
		}
		a, b := maxTime(e.Start, day), minTime(end, next)
		total += cal.Active(a, b)
	}
	return total.Minutes()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
