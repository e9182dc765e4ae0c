package console

import (
	"math"
	"reflect"
	"testing"

	"github.com/exchange-gov/exchange/exchange/sla"
)

// TestSeriesChartGapsAndTable: a day without data breaks the line (two
// segments, no dot), the table keeps the days with a value other than 0
// and marks the missing ones, and the top tick is a round value.
func TestSeriesChartGapsAndTable(t *testing.T) {
	days := []string{"2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"}
	ch := newSeriesChart("x", "T", "D", "%", days, []string{"a", "b"}, map[string][]float64{
		"a": {10, math.NaN(), 30, 40},
		"b": {0, 0, 0, 12.5},
	})
	a := ch.Series[0]
	if len(a.Segments) != 2 || len(a.Dots) != 3 || a.Dots[1].Day != "2026-12-03" {
		t.Fatalf("series a: %d segments, %d dots (%+v); want 2 segments and 3 dots", len(a.Segments), len(a.Dots), a.Dots)
	}
	if ch.Series[1].Class != "s1" {
		t.Errorf("second series class %q, want s1", ch.Series[1].Class)
	}
	if got := ch.YTicks[len(ch.YTicks)-1].Label; got != "50 %" {
		t.Errorf("top tick %q, want 50 %%", got)
	}
	want := []seriesRow{
		{"2026-12-01", []string{"10.0 %", "0.0 %"}},
		{"2026-12-03", []string{"30.0 %", "0.0 %"}},
		{"2026-12-04", []string{"40.0 %", "12.5 %"}},
	}
	if !reflect.DeepEqual(ch.Rows, want) {
		t.Errorf("rows %+v, want %+v", ch.Rows, want)
	}
	// A gap-only day is left out of the table unless another series has a value.
	ch = newSeriesChart("y", "T", "D", "", days[:2], []string{"c"}, map[string][]float64{"c": {math.NaN(), 0}})
	if len(ch.Rows) != 0 || len(ch.Series[0].Segments) != 1 {
		t.Errorf("rows %+v, segments %v; want none and one", ch.Rows, ch.Series[0].Segments)
	}
}

// TestFailureRates: a rule's daily rate is its failures over the
// dataset's records that day; days without records are gaps; the period
// row sums quarantined and warned over the period's records.
func TestFailureRates(t *testing.T) {
	f := &periodFilter{Days: []string{"2026-12-01", "2026-12-02", "2026-12-03"}}
	rows := []sla.Daily{
		{Day: "2026-12-01", Dataset: "a.x", Records: 200},
		{Day: "2026-12-01", Dataset: "a.x", Agreement: "ag", Records: 999}, // agreement rows do not count
		{Day: "2026-12-03", Dataset: "a.x", Records: 50},
	}
	reasons := []sla.ReasonDaily{
		{Day: "2026-12-01", Dataset: "a.x", Reason: "quality:r", Quarantined: 4, Warned: 6},
		{Day: "2026-12-03", Dataset: "a.x", Reason: "quality:r", Quarantined: 5},
	}
	out, ch := failures(f, rows, reasons)
	if len(out) != 1 || out[0].Rule != "r" || out[0].Quarantined != 9 || out[0].Warned != 6 || out[0].Records != 250 || out[0].Rate != 6 {
		t.Fatalf("failure rows %+v, want rule r: 9 quarantined, 6 warned of 250 records, 6 %%", out)
	}
	v := ch.Series[0].Values
	if v[0] != 5 || !math.IsNaN(v[1]) || v[2] != 10 {
		t.Errorf("daily rates %v, want 5, gap, 10", v)
	}
}
