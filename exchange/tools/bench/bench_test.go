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
	rates := []LatencyRate{{PerSec: 500}, {OfMax: 0.5}}
	res, err := Run(ctx, Config{Records: 3000, SASL: sasl, LatencyRecords: 200, LatencyRates: rates, Timeout: 2 * time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("report too short:\n%s", out.String())
	}
	last := lines[len(lines)-3:]
	for i, re := range []string{
		`^ratio exchange-commit/raw: \d+\.\d\d \(exchange \d+ rec/s to last commit, raw \d+ rec/s\)$`,
		`^ratio exchange/raw-franz: \d+\.\d\d \(exchange \d+ rec/s to index caught up, raw franz-go \d+ rec/s\)$`,
		`^ratio exchange/raw: \d+\.\d\d \(exchange \d+ rec/s to index caught up, raw \d+ rec/s\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(last[i]) {
			t.Errorf("line %q is not the machine-readable ratio line %s", last[i], re)
		}
	}
	for name, tp := range map[string]Throughput{"raw kafka-go": res.Raw, "raw franz-go": res.RawFranz, "exchange to last commit": res.ExchangeCommit, "exchange to index caught up": res.Exchange} {
		if tp.Records != 3000 || tp.RecPerSec <= 0 || tp.Elapsed <= 0 {
			t.Errorf("%s: %d records at %.0f rec/s in %v; want the 3000 published", name, tp.Records, tp.RecPerSec, tp.Elapsed)
		}
		if !strings.Contains(out.String(), name+":") {
			t.Errorf("no %q line in the report:\n%s", name, out.String())
		}
	}
	// The exchange is done when it committed its last offset and its index
	// caught up: never before the last commit.
	if res.Exchange.Elapsed < res.ExchangeCommit.Elapsed {
		t.Errorf("index caught up after %v, before the last commit at %v", res.Exchange.Elapsed, res.ExchangeCommit.Elapsed)
	}
	checkRatios(t, res)
	checkLatencies(t, res, out.String())
}

func checkRatios(t *testing.T, res Result) {
	t.Helper()
	for name, r := range map[string][2]float64{
		"Ratio":       {res.Ratio, res.Exchange.RecPerSec / res.Raw.RecPerSec},
		"RatioFranz":  {res.RatioFranz, res.Exchange.RecPerSec / res.RawFranz.RecPerSec},
		"RatioCommit": {res.RatioCommit, res.ExchangeCommit.RecPerSec / res.Raw.RecPerSec},
	} {
		if r[0] != r[1] || r[0] <= 0 {
			t.Errorf("%s = %v, want %v from the measured rates", name, r[0], r[1])
		}
	}
}

func checkLatencies(t *testing.T, res Result, out string) {
	t.Helper()
	if len(res.Latency) != 2 {
		t.Fatalf("%d latency probes, want 2", len(res.Latency))
	}
	half := int(res.Exchange.RecPerSec * 0.5)
	for i, want := range []int{500, max(1, half)} {
		l := res.Latency[i]
		if l.Rate != want || l.N == 0 || l.P99 < l.P50 {
			t.Errorf("latency probe %d: %d rec/s (want %d), %d delivered, p50 %v p99 %v", i, l.Rate, want, l.N, l.P50, l.P99)
		}
		if !strings.Contains(out, fmt.Sprintf("e2e latency at %d rec/s: p50 ", l.Rate)) {
			t.Errorf("no latency line for %d rec/s:\n%s", l.Rate, out)
		}
	}
	if res.P50 != res.Latency[0].P50 || res.P99 != res.Latency[0].P99 || res.LatencyN != res.Latency[0].N {
		t.Errorf("P50/P99/LatencyN are not the first probe's")
	}
}

// TestParseLatencyRates: numbers and "half" parse; anything else is
// refused with the offending item named.
func TestParseLatencyRates(t *testing.T) {
	got, err := ParseLatencyRates("1000, half,250")
	if err != nil {
		t.Fatal(err)
	}
	want := []LatencyRate{{PerSec: 1000}, {OfMax: 0.5}, {PerSec: 250}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed %v, want %v", got, want)
	}
	for _, bad := range []string{"", "0", "-5", "fast", "1000,,half"} {
		if _, err := ParseLatencyRates(bad); err == nil || !strings.Contains(err.Error(), "latency rate") {
			t.Errorf("ParseLatencyRates(%q): %v, want a latency rate error", bad, err)
		}
	}
}

// TestRepeatedRuns: a second run on the same broker and database measures
// its own records only (both groups start where the first run's records
// end); a run on a new broker with a database an earlier run filled is
// refused up front, naming the problem (the embedded broker starts its
// topics at offset 0, positions the ledger audited for other records); so
// is a run whose --partitions differs from the existing ingress topic's.
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
		res, err := Run(ctx, Config{Records: 2000, Brokers: brokers, DatabaseURL: db, LatencyRecords: 100, LatencyRates: []LatencyRate{{PerSec: 500}}, Timeout: 2 * time.Minute, Out: &out})
		return res, out.String(), err
	}
	for i := 1; i <= 2; i++ {
		res, out, err := run([]string{b.Addr()})
		if err != nil {
			t.Fatalf("run %d on the same broker: %v\n%s", i, err, out)
		}
		if res.Raw.Records != 2000 || res.RawFranz.Records != 2000 || res.ExchangeCommit.Records != 2000 || res.Exchange.Records != 2000 {
			t.Fatalf("run %d: raw %d, franz-go %d, exchange %d committed, %d indexed records; want this run's 2000", i, res.Raw.Records, res.RawFranz.Records, res.ExchangeCommit.Records, res.Exchange.Records)
		}
	}
	// The ingress topic keeps the partitions the first run created.
	var out6 bytes.Buffer
	_, err = Run(ctx, Config{Records: 100, Brokers: []string{b.Addr()}, DatabaseURL: db, Partitions: 6, Timeout: time.Minute, Out: &out6})
	if err == nil || !strings.Contains(err.Error(), "has 3 partitions on this broker, --partitions is 6") {
		t.Fatalf("run with --partitions 6 on 3-partition topics: %v\n%s", err, out6.String())
	}
	_, out, err := run(nil) // a new embedded broker
	if err == nil || !strings.Contains(err.Error(), "already holds entries") || !strings.Contains(err.Error(), "fresh database") {
		t.Fatalf("run on a new broker with a used database: %v\n%s", err, out)
	}
}

// TestRunSeveralProcesses: with Processes 2 both exchange instances run in
// one worker group and together move every record to the index; the group
// line of the report says how many members took part.
func TestRunSeveralProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and the whole exchange twice")
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Records: 3000, Partitions: 4, Processes: 2, LatencyRecords: 100, LatencyRates: []LatencyRate{{PerSec: 500}}, Timeout: 2 * time.Minute, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.ExchangeCommit.Records != 3000 || res.Exchange.Records != 3000 {
		t.Fatalf("exchange %d committed, %d indexed records; want the 3000 published\n%s", res.ExchangeCommit.Records, res.Exchange.Records, out.String())
	}
	if !regexp.MustCompile(`(?m)^exchange group: \d+ members of 2 processes`).MatchString(out.String()) {
		t.Fatalf("no group line for 2 processes:\n%s", out.String())
	}
}
