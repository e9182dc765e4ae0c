package timeliness

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Gauge reads a gauge of m with one label set (-1 when it has none).
func Gauge(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	switch name {
	case "exchange_dataset_silent":
		m.silent.Collect(ch)
	case "exchange_dataset_last_record_timestamp_seconds":
		m.lastRecord.Collect(ch)
	case "exchange_agreement_silent":
		m.agreementSilent.Collect(ch)
	default:
		t.Fatalf("no gauge %s", name)
	}
	close(ch)
	for x := range ch {
		var d dto.Metric
		if err := x.Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetGauge().GetValue()
	}
	return -1
}
