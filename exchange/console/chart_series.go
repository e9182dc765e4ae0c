// Time-series line charts (quality and quarantine pages): one line per
// series over the days of a period, the geometry computed here and only
// placed by templates/_chart_series.html, like the flow picture.

package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/exchange/sla"
)

// seriesChart is lines over days: X the days of the period, Y a value
// per day (a rate in % or a count). Its data is also in a table beside it.
type seriesChart struct {
	ID, Title, Desc string
	Unit            string // "%" or "" (counts)
	Width, Height   int
	Days            []string
	Series          []series
	XTicks          []tick
	YTicks          []tick
	Left, Top       float64 // plot box
	Right, Bottom   float64
	// Rows are the chart's data for its table: the days with a value
	// other than zero, each series' value formatted ("—": none).
	Rows []seriesRow
}

type seriesRow struct {
	Day   string
	Cells []string
}

// series is one line: its values per day, the points of its polyline and
// its colour and dash class (s0…s7, repeated beyond). A NaN value is a
// day without data: a gap in the line.
type series struct {
	Name     string
	Class    string
	Values   []float64
	Segments []string // polyline points, one per run of days with data
	Dots     []point
}

type point struct {
	X, Y, V float64
	Day     string
}

type tick struct {
	Pos   float64
	Label string
}

const (
	seriesW, seriesH = 900, 300
	seriesLeft       = 64
	seriesRight      = 16
	seriesTop        = 16
	seriesBottom     = 44
	seriesClasses    = 8
)

// newSeriesChart lays out values (series name → one value per day).
// names fixes the order of the series (and so their classes).
func newSeriesChart(id, title, desc, unit string, days, names []string, values map[string][]float64) seriesChart {
	ch := seriesChart{ID: id, Title: title, Desc: desc, Unit: unit, Width: seriesW, Height: seriesH, Days: days,
		Left: seriesLeft, Top: seriesTop, Right: seriesW - seriesRight, Bottom: seriesH - seriesBottom}
	top := 0.0
	for _, n := range names {
		for _, v := range values[n] {
			if !math.IsNaN(v) {
				top = math.Max(top, v)
			}
		}
	}
	top = niceCeil(top, unit)
	x := func(i int) float64 {
		if len(days) < 2 {
			return (ch.Left + ch.Right) / 2
		}
		return ch.Left + (ch.Right-ch.Left)*float64(i)/float64(len(days)-1)
	}
	y := func(v float64) float64 { return ch.Bottom - (ch.Bottom-ch.Top)*v/top }
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		label := strconv.FormatFloat(v, 'f', -1, 64) // top is 1, 2 or 5·10^k: quarters are short
		if unit == "%" {
			label += " %"
		}
		ch.YTicks = append(ch.YTicks, tick{Pos: y(v), Label: label})
	}
	step := max(1, (len(days)+6)/7) // at most about 8 day labels
	for i, d := range days {
		if i%step == 0 || i == len(days)-1 {
			ch.XTicks = append(ch.XTicks, tick{Pos: x(i), Label: d[5:]}) // MM-DD
		}
	}
	for si, n := range names {
		s := series{Name: n, Class: "s" + strconv.Itoa(si%seriesClasses), Values: values[n]}
		var pts []string
		for i, v := range s.Values {
			if math.IsNaN(v) {
				if len(pts) > 0 {
					s.Segments = append(s.Segments, strings.Join(pts, " "))
				}
				pts = nil
				continue
			}
			p := point{X: x(i), Y: y(v), V: v, Day: days[i]}
			s.Dots = append(s.Dots, p)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		}
		if len(pts) > 0 {
			s.Segments = append(s.Segments, strings.Join(pts, " "))
		}
		ch.Series = append(ch.Series, s)
	}
	ch.Rows = tableRows(days, ch.Series, unit)
	return ch
}

// tableRows are the days on which some series has a value other than 0.
func tableRows(days []string, ss []series, unit string) []seriesRow {
	var rows []seriesRow
	for i, d := range days {
		row := seriesRow{Day: d}
		any := false
		for _, s := range ss {
			v := s.Values[i]
			if math.IsNaN(v) {
				row.Cells = append(row.Cells, "—")
				continue
			}
			any = any || v != 0
			row.Cells = append(row.Cells, formatValue(v, unit))
		}
		if any {
			rows = append(rows, row)
		}
	}
	return rows
}

// noData fills n days with NaN: no data yet.
func noData(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// niceCeil rounds a chart's top value up to 1, 2 or 5 times a power of
// ten (a rate at most 100 %), so the ticks read well.
func niceCeil(v float64, unit string) float64 {
	if v <= 0 {
		if unit == "%" {
			return 1
		}
		return 4
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			v = m * p
			break
		}
	}
	if unit == "%" {
		v = math.Min(v, 100)
	} else {
		v = math.Max(v, 4) // counts: whole ticks
	}
	return v
}

// formatValue writes a value of the chart: a rate with one decimal, a
// count whole.
func formatValue(v float64, unit string) string {
	if unit == "%" {
		return strconv.FormatFloat(v, 'f', 1, 64) + " %"
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

// periodDays are the UTC dates of the days days ending with today's.
func periodDays(today string, days int) []string {
	t, err := time.Parse(sla.DayLayout, today)
	if err != nil {
		return []string{today}
	}
	out := make([]string, days)
	for i := range out {
		out[i] = sla.Day(t.AddDate(0, 0, i-days+1))
	}
	return out
}
