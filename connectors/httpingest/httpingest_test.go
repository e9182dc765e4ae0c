package httpingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/schemas"
)

const testSchema = `{"type": "record", "name": "Reading", "namespace": "bench", "fields": [
	{"name": "record_id", "type": "string"},
	{"name": "sensor", "type": "string"},
	{"name": "value", "type": "double"},
	{"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}`

// TestSplitArray: the body must be one JSON array; more than the limit of
// records is a *tooManyError.
func TestSplitArray(t *testing.T) {
	for _, c := range []struct {
		body    string
		n       int
		wantErr string
	}{
		{`[{"a":1}, {"a":2}]`, 2, ""},
		{` [] `, 0, ""},
		{`{"a":1}`, 0, "must be a JSON array"},
		{`[{"a":1}`, 0, "does not end"},
		{`[1] [2]`, 0, "more than one JSON value"},
		{`[{"a":1}, {"a":2}, {"a":3}]`, 0, "more than 2 records"},
		{`not json`, 0, "not JSON"},
	} {
		elems, err := splitArray([]byte(c.body), 2)
		switch {
		case c.wantErr == "" && (err != nil || len(elems) != c.n):
			t.Errorf("%s: %d records, %v; want %d", c.body, len(elems), err, c.n)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", c.body, err, c.wantErr)
		}
	}
	var tooMany *tooManyError
	if _, err := splitArray([]byte(`[1,2,3]`), 2); !errors.As(err, &tooMany) {
		t.Errorf("over the limit: %T, want *tooManyError (413)", err)
	}
}

// TestEncodeAllNamesEveryBadRecord: every record that does not fit is
// named by index and field, and then no message at all is returned.
func TestEncodeAllNamesEveryBadRecord(t *testing.T) {
	s, err := schemas.ParseSchema(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := publish.NewEncoder(&schemas.SchemaVersion{Subject: "s", ID: 7, Avro: s}, "")
	if err != nil {
		t.Fatal(err)
	}
	elems, _ := splitArray([]byte(`[
		{"record_id": "a", "sensor": "s1", "value": 1.5, "at": "2026-01-01T00:00:00Z"},
		{"record_id": "b", "sensor": "s1", "value": "high", "at": "2026-01-01T00:00:00Z"},
		{"record_id": "c", "value": 2, "at": "2026-01-01T00:00:00Z"},
		[1, 2]]`), 10)
	msgs, bad := encodeAll(enc, elems, nil)
	if msgs != nil {
		t.Errorf("%d messages returned with bad records", len(msgs))
	}
	got := make([]string, len(bad))
	for i, e := range bad {
		got[i] = fmt.Sprintf("%d:%s", e.Index, e.Field)
	}
	if want := []string{"1:value", "2:sensor", "3:"}; !slices.Equal(got, want) {
		t.Errorf("errors %v (%+v), want %v", got, bad, want)
	}
	msgs, bad = encodeAll(enc, elems[:1], []kafka.Header{{Key: HeaderPrincipal, Value: []byte("p")}})
	if len(msgs) != 1 || bad != nil || string(msgs[0].Key) != "a" || len(msgs[0].Headers) != 1 {
		t.Errorf("a good record: %+v %v, want keyed by record_id with the principal header", msgs, bad)
	}
}

// TestConfigDefaults: a zero block takes the documented defaults and a
// burst below max_records is refused.
func TestConfigDefaults(t *testing.T) {
	c := Config{}.WithDefaults()
	if c.MaxBodyBytes != 4<<20 || c.MaxRecords != 5000 || c.RecordsPerSecond != 5000 || c.Burst != 10000 ||
		c.ProduceTimeout != 10*time.Second || c.IdempotencyTTL != 24*time.Hour {
		t.Errorf("defaults %+v", c)
	}
	if err := (Config{MaxRecords: 10, Burst: 5}).Validate(); err == nil {
		t.Error("burst 5 below max_records 10: accepted")
	}
}

// staticDatasets is a fixed dataset list (the exchange asks the plan).
type staticDatasets map[string]Dataset

func (s staticDatasets) Dataset(id string) (Dataset, bool) { d, ok := s[id]; return d, ok }

// benchWorld is the handler on the embedded broker behind an HTTP server
// that authenticates every request as the publisher of agency "bench".
type benchWorld struct {
	url   string
	kc    *kafkaclient.Clients
	close func()
}

func newBenchWorld(b testing.TB, dataset string, partitions int) *benchWorld {
	b.Helper()
	ctx := context.Background()
	broker, err := devbroker.Start("127.0.0.1:0", devbroker.DefaultPartitions(partitions))
	if err != nil {
		b.Fatal(err)
	}
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{broker.Addr()}})
	if err != nil {
		b.Fatal(err)
	}
	topic := names.Ingress(dataset)
	if _, err := kc.Admin().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}}}); err != nil {
		b.Fatal(err)
	}
	reg := schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(slog.New(slog.DiscardHandler)))
	if _, err := reg.Register(ctx, names.IngressSubject(dataset), testSchema); err != nil {
		b.Fatal(err)
	}
	p := NewKafkaProducer(kc)
	h, err := New(Config{Enabled: true, RecordsPerSecond: 1e9}, staticDatasets{dataset: {Owner: "bench"}}, reg, p,
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Route, h)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), auth.AgencyPrincipal(auth.MethodBasic, "bench", "bench"))))
	}))
	return &benchWorld{url: srv.URL + "/api/v1/datasets/" + dataset + "/records", kc: kc, close: func() {
		srv.Close()
		p.Close()
		kc.Close()
		broker.Close()
	}}
}

// benchBody is a request of n records.
func benchBody(n, round int) []byte {
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = map[string]any{"record_id": fmt.Sprintf("r-%d-%d", round, i), "sensor": fmt.Sprintf("s-%d", i%17),
			"value": float64(i) / 3, "at": time.Now().UTC().Format(time.RFC3339Nano)}
	}
	b, _ := json.Marshal(recs)
	return b
}

// BenchmarkHTTPIngest posts requests of a fixed number of records, one at
// a time, to the handler on the embedded broker (kfake, 3 partitions,
// acks=all) and reports each request's p99 latency and the records per
// second acknowledged.
func BenchmarkHTTPIngest(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			w := newBenchWorld(b, "bench.readings", 3)
			defer w.close()
			bodies := make([][]byte, 8)
			for i := range bodies {
				bodies[i] = benchBody(batch, i)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				resp, err := http.Post(w.url, "application/json", strings.NewReader(string(bodies[i%len(bodies)])))
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%d %s", resp.StatusCode, body)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "records/s")
		})
	}
}

// TestConcurrentRequestsGetTheirOwnPositions: requests posted at once
// share one writer and its batches; each answer's positions are where its
// own records are (the record at each position has the key, record_id,
// sent at that index), and no two records share a position.
func TestConcurrentRequestsGetTheirOwnPositions(t *testing.T) {
	w := newBenchWorld(t, "bench.concurrent", 3)
	defer w.close()
	const requests, size = 8, 40
	type result struct {
		round     int
		positions []Position
		err       error
	}
	results := make(chan result, requests)
	for r := range requests {
		go func() {
			resp, err := http.Post(w.url, "application/json", strings.NewReader(string(benchBody(size, r))))
			if err != nil {
				results <- result{r, nil, err}
				return
			}
			defer resp.Body.Close()
			var a struct {
				Accepted  int        `json:"accepted"`
				Positions []Position `json:"positions"`
			}
			body, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(body, &a); err != nil || resp.StatusCode != 200 || a.Accepted != size {
				results <- result{r, nil, fmt.Errorf("%d %s", resp.StatusCode, body)}
				return
			}
			results <- result{r, a.Positions, nil}
		}()
	}
	seen := map[Position]bool{}
	for range requests {
		res := <-results
		if res.err != nil {
			t.Fatalf("request %d: %v", res.round, res.err)
		}
		for i, p := range res.positions {
			if seen[p] {
				t.Fatalf("position %+v answered twice", p)
			}
			seen[p] = true
			if key := keyAt(t, w.kc, "bench.concurrent", p); key != fmt.Sprintf("r-%d-%d", res.round, i) {
				t.Fatalf("request %d record %d answered at %+v, where the record is %q", res.round, i, p, key)
			}
		}
	}
}

// keyAt is the key of the record at p of the dataset's ingress topic.
func keyAt(t *testing.T, kc *kafkaclient.Clients, dataset string, p Position) string {
	t.Helper()
	res, err := kc.Admin().Fetch(context.Background(), &kafka.FetchRequest{Topic: names.Ingress(dataset), Partition: p.Partition,
		Offset: p.Offset, MaxBytes: 1 << 20})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := res.Records.ReadRecord()
		if err != nil {
			t.Fatalf("no record at %+v: %v", p, err)
		}
		if r.Offset == p.Offset {
			key, _ := io.ReadAll(r.Key)
			return string(key)
		}
	}
}

// TestLimiters: a principal's bucket refuses what it does not hold, with
// the wait until it will, and spends nothing then; principals do not
// share buckets; an idle principal's full bucket is forgotten.
func TestLimiters(t *testing.T) {
	l := newLimiters(10, 20)
	now := time.Unix(1000, 0)
	if ok, _ := l.take("a", 20, now); !ok {
		t.Fatal("a full bucket refused its burst")
	}
	ok, wait := l.take("a", 5, now)
	if ok || wait != 500*time.Millisecond || retryAfterSeconds(wait) != 1 {
		t.Fatalf("an empty bucket: %v, wait %v; want refused, 0.5s", ok, wait)
	}
	if ok, _ := l.take("a", 5, now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the wait it named: the refusal spent tokens")
	}
	if ok, _ := l.take("b", 20, now); !ok {
		t.Fatal("another principal limited by a's bucket")
	}
	l.prune(now.Add(10 * time.Second))
	if len(l.by) != 0 {
		t.Fatalf("%d buckets kept after both refilled", len(l.by))
	}
}
