package bench

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
)

// TestRunReportsRatioLine runs a small benchmark end to end on the embedded
// broker, without and with SASL. It checks the run completes and the
// report's last line has the machine-readable form; it asserts nothing
// about speed.
func TestRunReportsRatioLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and the whole exchange")
	}
	for _, sasl := range []bool{false, true} {
		t.Run(fmt.Sprintf("sasl=%v", sasl), func(t *testing.T) { testRatioLine(t, sasl) })
	}
	if _, err := Run(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}, SASL: true}); err == nil || !strings.Contains(err.Error(), "embedded broker only") {
		t.Errorf("SASL with brokers: %v", err)
	}
}

func testRatioLine(t *testing.T, sasl bool) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Records: 3000, SASL: sasl, LatencyRecords: 200, LatencyRate: 500, Timeout: 2 * time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^ratio exchange/raw: \d+\.\d\d \(exchange \d+ rec/s, raw \d+ rec/s\)$`).MatchString(last) {
		t.Fatalf("last line %q is not the machine-readable ratio line", last)
	}
	if res.Raw.Records != 3000 || res.Exchange.Records != 3000 {
		t.Fatalf("processed raw %d, exchange %d records; want the 3000 published", res.Raw.Records, res.Exchange.Records)
	}
	if res.LatencyN == 0 || res.P99 < res.P50 {
		t.Fatalf("latency over %d records: p50 %v p99 %v", res.LatencyN, res.P50, res.P99)
	}
}

// TestRepeatedRuns: a second run on the same broker and database measures
// its own records only (both groups start where the first run's records
// end); a run on a new broker with a database an earlier run filled is
// refused up front, naming the problem (the embedded broker starts its
// topics at offset 0, positions the ledger audited for other records).
func TestRepeatedRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers and the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db := "sqlite://" + filepath.Join(t.TempDir(), "bench.db")
	b, err := devbroker.Start("127.0.0.1:0", devbroker.DefaultPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run := func(brokers []string) (Result, string, error) {
		var out bytes.Buffer
		res, err := Run(ctx, Config{Records: 2000, Brokers: brokers, DatabaseURL: db, LatencyRecords: 100, LatencyRate: 500, Timeout: 2 * time.Minute, Out: &out})
		return res, out.String(), err
	}
	for i := 1; i <= 2; i++ {
		res, out, err := run([]string{b.Addr()})
		if err != nil {
			t.Fatalf("run %d on the same broker: %v\n%s", i, err, out)
		}
		if res.Raw.Records != 2000 || res.Exchange.Records != 2000 {
			t.Fatalf("run %d: raw %d, exchange %d records; want this run's 2000", i, res.Raw.Records, res.Exchange.Records)
		}
	}
	_, out, err := run(nil) // a new embedded broker
	if err == nil || !strings.Contains(err.Error(), "already holds entries") || !strings.Contains(err.Error(), "fresh database") {
		t.Fatalf("run on a new broker with a used database: %v\n%s", err, out)
	}
}
