package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

const sampleFile = "../../deploy/examples/records/health.immunisations.jsonl"

// TestActivityLogMatchesMetricsAndHoldsNoFieldValue publishes the sample
// file through the dev stack: the activity log's summaries add up, per
// dataset, to the exchange_records_* counters of /metrics, the first
// quarantine of each reason is logged with the rule's expression and
// description, and no field value of the sample records appears anywhere
// in the process's log.
func TestActivityLogMatchesMetricsAndHoldsNoFieldValue(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs syncBuffer
	a, b, base := startStack(ctx, t, copyExamples(t), func(c *Config) {
		c.ActivityInterval = 100 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	sum, err := publishSample(ctx, t, a, b.Addr())
	if err != nil || sum.Published == 0 {
		t.Fatalf("publishing the sample file: %+v %v", sum, err)
	}
	published := sum.Published

	var last string
	waitFor(t, "the activity log to add up to /metrics", time.Minute, func() bool {
		m := scrapeRecordCounters(t, base)
		if m["in health.immunisations"] < float64(published) {
			return false
		}
		got := activityTotals(logs.String())
		last = diffCounts(got, m)
		return last == ""
	})
	if last != "" {
		t.Fatalf("activity log and /metrics differ: %s", last)
	}
	out := logs.String()
	want := "activity: first record of health.immunisations quarantined for quality:age_in_range: " +
		"rule age_in_range (record.age >= 0 && record.age < 130) is false: An age outside 0–129 is a data-entry error at the clinic."
	if !strings.Contains(out, want) {
		t.Errorf("log lacks the first quarantine line %q:\n%s", want, out)
	}
	for _, v := range sampleValues(t) {
		if strings.Contains(out, v) {
			t.Errorf("the log holds the sample field value %q", v)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("log:\n%s", out)
	}
}

// publishSample publishes the sample file as the dev banner says (with
// --stamp-now administered_at) and returns the publisher's summary.
func publishSample(ctx context.Context, t *testing.T, a *App, broker string) (publish.Summary, error) {
	t.Helper()
	latest, err := a.Registry().Latest(ctx, "ingress.health.immunisations-value")
	if err != nil {
		t.Fatal(err)
	}
	s, err := registryhttp.ParseSchema(latest.Subject, latest.Version, latest.ID, latest.Text)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := publish.NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.StampNow("administered_at", time.Now); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{broker}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topic := names.Ingress("health.immunisations")
	waitFor(t, "the ingress topic", 30*time.Second, func() bool { return publish.CheckTopic(ctx, kc, topic) == nil })
	w := publish.NewWriter(kc, topic)
	defer w.Close()
	return publish.Run(ctx, f, enc, w)
}

// counterLine is one exchange_records_* sample of /metrics.
var counterLine = regexp.MustCompile(`^exchange_records_(in|delivered|quarantined|skipped)_total\{([^}]*)\} (\S+)$`)

// scrapeRecordCounters reads /metrics: "in <dataset>", "delivered
// <dataset> <agreement>", "quarantined <dataset> <reason>", "skipped
// <dataset> <agreement>/<reason>" → value.
func scrapeRecordCounters(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := apiGet(t, base, "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := counterLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(m[2], ",") {
			k, v, _ := strings.Cut(kv, "=")
			labels[k], _ = strconv.Unquote(v)
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		key := m[1] + " " + labels["dataset"]
		switch m[1] {
		case "delivered":
			key += " " + labels["agreement"]
		case "quarantined":
			key += " " + labels["reason"]
		case "skipped":
			key += " " + labels["agreement"] + "/" + labels["reason"]
		}
		out[key] += v
	}
	return out
}

// activityField is one count of an activity summary line.
var activityField = regexp.MustCompile(` (in|delivered_to\.\S+|quarantined_for\.\S+|skipped_by\.\S+)=(\d+)`)

// activityTotals sums the activity log's summary lines, keyed as
// scrapeRecordCounters.
func activityTotals(log string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(log, "\n") {
		_, rest, ok := strings.Cut(line, `" dataset=`)
		if !ok || !strings.Contains(line, "msg=\"activity: ") || strings.Contains(line, "first record of") {
			continue
		}
		ds, _, _ := strings.Cut(rest, " ")
		for _, m := range activityField.FindAllStringSubmatch(rest, -1) {
			n, _ := strconv.ParseFloat(m[2], 64)
			kind, label, _ := strings.Cut(m[1], ".")
			key := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(kind, "_to"), "_for"), "_by") + " " + ds
			if label != "" {
				key += " " + label
			}
			out[key] += n
		}
	}
	return out
}

// diffCounts describes how got and want differ, "" when they agree.
func diffCounts(got, want map[string]float64) string {
	var d []string
	for k, v := range want {
		if got[k] != v {
			d = append(d, k+": log "+strconv.FormatFloat(got[k], 'f', -1, 64)+", /metrics "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			d = append(d, k+": log "+strconv.FormatFloat(v, 'f', -1, 64)+", not in /metrics")
		}
	}
	return strings.Join(d, "; ")
}

// sampleValues are the string field values of the sample records that
// identify a person or a record (six characters or more: ids, phone
// numbers, postcodes, dates of birth, batch numbers).
func sampleValues(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			continue // the deliberately broken line
		}
		for k, v := range rec {
			if s, ok := v.(string); ok && len(s) >= 6 && k != "administered_at" { // stamped with the publish time
				vals = append(vals, s)
			}
		}
	}
	if len(vals) < 50 {
		t.Fatalf("only %d sample values to look for", len(vals))
	}
	return vals
}

// syncBuffer is a bytes.Buffer safe for a logger and a test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
