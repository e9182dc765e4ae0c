package bench

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunReportsRatioLine runs a small benchmark end to end on the embedded
// broker. It checks the run completes and the report's last line has the
// machine-readable form; it asserts nothing about speed.
func TestRunReportsRatioLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and the whole exchange")
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Records: 3000, LatencyRecords: 200, LatencyRate: 500, Timeout: 2 * time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^ratio exchange/raw: \d+\.\d\d \(exchange \d+ rec/s, raw \d+ rec/s\)$`).MatchString(last) {
		t.Fatalf("last line %q is not the machine-readable ratio line", last)
	}
	if res.Raw.Records < 3000 || res.Exchange.Records < 3000 {
		t.Fatalf("processed raw %d, exchange %d records; want all 3000", res.Raw.Records, res.Exchange.Records)
	}
	if res.LatencyN == 0 || res.P99 < res.P50 {
		t.Fatalf("latency over %d records: p50 %v p99 %v", res.LatencyN, res.P50, res.P99)
	}
}
