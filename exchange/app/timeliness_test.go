package app

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/policy"
)

const immunisations = "health.immunisations"

// TestSilenceNoticesWithTwoInstancesAndARestart: with expected_every: 3s,
// two exchange processes of one group share the partitions and the store.
// Once the publisher stops, within 5 s of its last accepted record both
// processes' gauges are 1 and one silence_started notice is on
// notices.health; the next records set them back to 0 and one
// silence_ended notice follows. Silent again, both stop; a new process
// takes the silence from the store (gauge 1, no second notice) and ends it
// when records come.
func TestSilenceNoticesWithTwoInstancesAndARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange, three times")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	setExpectedEvery(t, dir, "3s")
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	data := t.TempDir()
	a1, base1, stop1 := startInstance(ctx, t, b.Addr(), data, dir)
	_, base2, stop2 := startInstance(ctx, t, b.Addr(), data, dir)
	bases := []string{base1, base2}
	for _, base := range bases {
		waitFor(t, "the process ready (group joined)", time.Minute, func() bool { return ready(base) })
	}

	publishOrFail(ctx, t, a1, b.Addr())
	silentWithin(t, bases, 5*time.Second)
	waitNotices(ctx, t, b.Addr(), map[string]int{sla.KindSilenceStarted: 1})

	publishOrFail(ctx, t, a1, b.Addr())
	waitFor(t, "both gauges back to 0", 30*time.Second, func() bool { return gaugeIs(t, bases, "exchange_dataset_silent", 0) })
	waitNotices(ctx, t, b.Addr(), map[string]int{sla.KindSilenceStarted: 1, sla.KindSilenceEnded: 1})
	silentWithin(t, bases, 5*time.Second)
	waitNotices(ctx, t, b.Addr(), map[string]int{sla.KindSilenceStarted: 2, sla.KindSilenceEnded: 1})

	stop1()
	stop2()
	a3, base3, _ := startInstance(ctx, t, b.Addr(), data, dir)
	waitFor(t, "the restarted process to find the silence in the store", 30*time.Second, func() bool {
		return gaugeIs(t, []string{base3}, "exchange_dataset_silent", 1)
	})
	waitFor(t, "the restarted process ready", time.Minute, func() bool { return ready(base3) })
	publishOrFail(ctx, t, a3, b.Addr())
	waitFor(t, "the gauge back to 0 after the restart", 30*time.Second, func() bool {
		return gaugeIs(t, []string{base3}, "exchange_dataset_silent", 0)
	})
	// One notice per event, whichever process saw it: no second
	// silence_started from the restarted process.
	waitNotices(ctx, t, b.Addr(), map[string]int{sla.KindSilenceStarted: 2, sla.KindSilenceEnded: 2})

	resp, err := apiGet(t, base3, "/api/v1/sla/events?dataset="+immunisations)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs struct {
		Events []struct {
			End *time.Time `json:"end"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&evs); err != nil || len(evs.Events) < 2 || evs.Events[0].End == nil || evs.Events[1].End == nil {
		t.Fatalf("SLA events %+v, %v; want two closed silences first", evs, err)
	}
}

// TestQuarantineNoticesAndSLAMatchTheLedger publishes the sample file: each
// quarantined record yields a notice to health with its reason codes and
// position and no field value of the sample, and GET /api/v1/sla matches
// counts computed here from the ledger entries.
func TestQuarantineNoticesAndSLAMatchTheLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, base := startStack(ctx, t, copyExamples(t))
	sum := publishOrFail(ctx, t, a, b.Addr())

	var entries []ledger.Entry
	waitFor(t, "every published record audited", time.Minute, func() bool {
		entries = ledgerEntries(ctx, t, a)
		return len(entries) >= sum
	})
	want := slaFromLedger(entries)
	quarantined := map[string]ledger.Entry{}
	for _, e := range entries {
		if e.Decision == ledger.Quarantined {
			quarantined[strconv.Itoa(int(e.Partition))+"/"+strconv.FormatInt(e.Offset, 10)] = e
		}
	}
	if len(quarantined) == 0 || len(quarantined) > timeliness.DefaultNoticesPerMinute {
		t.Fatalf("%d quarantined sample records; the test wants 1 to %d", len(quarantined), timeliness.DefaultNoticesPerMinute)
	}

	var got map[string]sla.DayReport
	waitFor(t, "GET /api/v1/sla to match the ledger", 30*time.Second, func() bool {
		got = slaFromAPI(t, base)
		return equalReports(got, want)
	})

	t.Logf("%d records, %d quarantined; SLA rows %+v", len(entries), len(quarantined), got)

	var raw [][]byte
	waitFor(t, "a notice per quarantined record", 30*time.Second, func() bool {
		var ns []sla.Notice
		ns, raw = readNotices(ctx, t, b.Addr(), "health")
		n := 0
		for _, x := range ns {
			if x.Kind != sla.KindQuarantine {
				continue
			}
			n++
			e, ok := quarantined[strconv.Itoa(int(x.Partition))+"/"+strconv.FormatInt(x.Offset, 10)]
			if !ok || x.Topic != e.Topic || x.Dataset != immunisations || x.Reason != strings.Join(e.Reasons, ",") || int(x.SchemaID) != e.SchemaID {
				t.Fatalf("notice %+v does not match a quarantined entry", x)
			}
		}
		return n == len(quarantined)
	})
	for _, v := range sampleValues(t) {
		for _, r := range raw {
			if strings.Contains(string(r), v) {
				t.Fatalf("a notice holds the sample value %q", v)
			}
		}
	}
}

// setExpectedEvery rewrites the immunisations contract's expected_every.
func setExpectedEvery(t *testing.T, dir, every string) {
	t.Helper()
	p := filepath.Join(dir, "contract-health.immunisations.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^  expected_every: .*$`)
	if !re.Match(b) {
		t.Fatal("the contract has no expected_every")
	}
	if err := os.WriteFile(p, re.ReplaceAll(b, []byte("  expected_every: "+every)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func publishOrFail(ctx context.Context, t *testing.T, a *App, broker string) int {
	t.Helper()
	sum, err := publishSample(ctx, t, a, broker)
	if err != nil || sum.Published == 0 {
		t.Fatalf("publishing the sample file: %+v %v", sum, err)
	}
	return sum.Published
}

func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// gauge reads a gauge of the immunisations dataset from /metrics.
func gauge(t *testing.T, base, name string) (float64, bool) {
	t.Helper()
	resp, err := apiGet(t, base, "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	prefix := name + `{dataset="` + immunisations + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func gaugeIs(t *testing.T, bases []string, name string, want float64) bool {
	for _, base := range bases {
		if v, ok := gauge(t, base, name); !ok || v != want {
			return false
		}
	}
	return true
}

// silentWithin waits for every process's silent gauge to be 1 and checks
// it came within d of the last accepted record.
func silentWithin(t *testing.T, bases []string, d time.Duration) {
	t.Helper()
	waitFor(t, "the dataset silent in every process", 30*time.Second, func() bool {
		return gaugeIs(t, bases, "exchange_dataset_silent", 1)
	})
	seen := time.Now()
	last, ok := gauge(t, bases[0], "exchange_dataset_last_record_timestamp_seconds")
	if !ok {
		t.Fatal("no last record timestamp")
	}
	if lag := seen.Sub(time.UnixMicro(int64(last * 1e6))); lag > d {
		t.Fatalf("silent seen %v after the last accepted record, want within %v", lag, d)
	}
}

// waitNotices waits until notices.health holds exactly the counts of
// silence notices of immunisations wanted.
func waitNotices(ctx context.Context, t *testing.T, broker string, want map[string]int) {
	t.Helper()
	var got map[string]int
	waitFor(t, "silence notices on notices.health", 30*time.Second, func() bool {
		ns, _ := readNotices(ctx, t, broker, "health")
		got = map[string]int{}
		for _, n := range ns {
			if n.Dataset == immunisations && strings.HasPrefix(n.Kind, "silence_") {
				got[n.Kind]++
			}
		}
		for k, v := range want {
			if got[k] > v {
				t.Fatalf("silence notices %v, want %v", got, want)
			}
			if got[k] != v {
				return false
			}
		}
		return true
	})
}

// readNotices reads every notice on notices.<agency> so far, decoded and raw.
func readNotices(ctx context.Context, t *testing.T, broker, agency string) ([]sla.Notice, [][]byte) {
	t.Helper()
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{broker}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topic := names.Notices(agency)
	var ns []sla.Notice
	var raw [][]byte
	for p := range 3 {
		end := topicSize(ctx, t, kc.Admin(), topic, p+1) - topicSize(ctx, t, kc.Admin(), topic, p)
		if end <= 0 {
			continue
		}
		r := kc.Reader(kafka.ReaderConfig{Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for i := int64(0); i < end; i++ {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			m, err := r.ReadMessage(rctx)
			cancel()
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			n, err := sla.DecodeNotice(m.Value)
			if err != nil {
				t.Fatalf("%s/%d/%d: %v", topic, p, m.Offset, err)
			}
			ns, raw = append(ns, n), append(raw, m.Value)
		}
		r.Close()
	}
	return ns, raw
}

// ledgerEntries reads every ledger entry of the immunisations dataset.
func ledgerEntries(ctx context.Context, t *testing.T, a *App) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	q := ledger.Query{Dataset: immunisations, Limit: ledger.MaxLimit}
	for {
		page, err := a.Store().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Entries...)
		if page.Next == "" {
			return out
		}
		q.After = page.Next
	}
}

// slaFromLedger computes the SLA counts from ledger entries, by
// "day dataset agreement".
func slaFromLedger(entries []ledger.Entry) map[string]sla.DayReport {
	out := map[string]sla.DayReport{}
	for _, e := range entries {
		day := sla.Day(e.DecisionTime)
		k := day + " " + e.Dataset + " "
		r := out[k]
		r.Day, r.Dataset = day, e.Dataset
		r.Records++
		stale := false
		for _, c := range e.Reasons {
			stale = stale || c == policy.ReasonFreshnessStale
		}
		switch {
		case e.Decision == ledger.Quarantined:
			r.Quarantined++
		case !stale:
			r.OnTime++
		}
		if stale {
			r.Stale++
		}
		r.Deliveries += int64(len(e.Deliveries))
		out[k] = r
		for _, d := range e.Deliveries {
			ar := out[k+d.AgreementID]
			ar.Day, ar.Dataset, ar.Agreement = day, e.Dataset, d.AgreementID
			ar.Records++
			ar.OnTime++
			ar.Deliveries++
			out[k+d.AgreementID] = ar
		}
		for _, s := range e.Skips {
			if s.Reason == policy.SkipStale {
				ar := out[k+s.AgreementID]
				ar.Day, ar.Dataset, ar.Agreement = day, e.Dataset, s.AgreementID
				ar.Records++
				ar.Stale++
				out[k+s.AgreementID] = ar
			}
		}
	}
	return out
}

// slaFromAPI reads GET /api/v1/sla of immunisations, keyed as slaFromLedger.
func slaFromAPI(t *testing.T, base string) map[string]sla.DayReport {
	t.Helper()
	resp, err := apiGet(t, base, "/api/v1/sla?dataset="+immunisations)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep struct {
		Days []sla.DayReport `json:"days"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]sla.DayReport{}
	for _, d := range rep.Days {
		out[d.Day+" "+d.Dataset+" "+d.Agreement] = d
	}
	return out
}

// equalReports compares the counts (not the lag percentiles or silences,
// which the ledger does not hold).
func equalReports(got, want map[string]sla.DayReport) bool {
	if len(got) != len(want) {
		return false
	}
	for k, w := range want {
		g := got[k]
		if g.Records != w.Records || g.OnTime != w.OnTime || g.Stale != w.Stale || g.Quarantined != w.Quarantined || g.Deliveries != w.Deliveries {
			return false
		}
	}
	return true
}

// TestQuarantineFloodYieldsBoundedNotices publishes 300 records that are
// not in the wire format: with 5 notices per (shortened) window, the
// provider gets 5 individual notices and one summary counting the other
// 295, not 300 notices.
func TestQuarantineFloodYieldsBoundedNotices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, b, _ := startStack(ctx, t, copyExamples(t), func(c *Config) {
		c.Timeliness = TimelinessConfig{NoticesPerMinute: 5, NoticeWindow: 10 * time.Second}
	})
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{b.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	topic := names.Ingress(immunisations)
	w := kc.Writer(topic)
	defer w.Close()
	const flood = 300
	msgs := make([]kafka.Message, flood)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(strconv.Itoa(i)), Value: []byte("not avro " + strconv.Itoa(i))}
	}
	waitFor(t, "the ingress topic", 30*time.Second, func() bool { return w.WriteMessages(ctx, msgs...) == nil })

	var individual, summarised int64
	waitFor(t, "the flood's notices", time.Minute, func() bool {
		ns, _ := readNotices(ctx, t, b.Addr(), "health")
		individual, summarised = 0, 0
		for _, n := range ns {
			switch {
			case n.Kind == sla.KindQuarantine && n.Reason == policy.ReasonDecodeMalformed:
				individual++
			case n.Kind == sla.KindQuarantineSummary && n.Reason == policy.ReasonDecodeMalformed:
				summarised += n.Count
			}
		}
		return individual+summarised >= flood
	})
	if individual != 5 || summarised != flood-5 {
		t.Fatalf("%d individual notices and summaries of %d records, want 5 and %d", individual, summarised, flood-5)
	}
}
