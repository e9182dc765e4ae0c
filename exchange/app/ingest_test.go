package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// sampleRecords are n records of health.immunisations as JSON objects,
// from the example sample file, fresh (administered now) and with unique
// record ids under tag.
func sampleRecords(t *testing.T, tag string, n int) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "deploy", "examples", "records", immunisations+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	out := make([]map[string]any, n)
	for i := range out {
		m := map[string]any{}
		for k, v := range lines[i%len(lines)] {
			m[k] = v
		}
		m["record_id"] = fmt.Sprintf("%s-%d", tag, i)
		m["administered_at"] = time.Now().UTC().Format(time.RFC3339)
		out[i] = m
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ingestResult is one answer of HTTP ingest.
type ingestResult struct {
	code   int
	header http.Header
	body   []byte
}

// postRecords posts body to the dataset's records as claims (nil: no
// credentials), with an Idempotency-Key when key is not "".
func postRecords(t *testing.T, base, dataset string, claims *devissuer.Claims, key string, body []byte) ingestResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/datasets/"+dataset+"/records", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if claims != nil {
		req.Header.Set("Authorization", bearer(t, *claims))
	}
	if key != "" {
		req.Header.Set(httpingest.HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return ingestResult{resp.StatusCode, resp.Header, b}
}

// readTopic reads every record of topic's partitions through c.
func readTopic(ctx context.Context, t *testing.T, c *kafka.Client, topic string, partitions int) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
		res, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: p, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			t.Fatalf("reading %s[%d]: %v", topic, p, err)
		}
		for {
			r, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			m := kafka.Message{Partition: p, Offset: r.Offset, Headers: r.Headers}
			m.Value, _ = io.ReadAll(r.Value)
			out = append(out, m)
		}
	}
	return out
}

var (
	healthPub   = devissuer.Claims{Subject: "health", Agency: "health", Roles: []string{"publisher"}}
	healthCons  = devissuer.Claims{Subject: "health-reader", Agency: "health", Roles: []string{"consumer"}}
	taxPub      = devissuer.Claims{Subject: "tax", Agency: "tax", Roles: []string{"publisher"}}
	healthBurst = devissuer.Claims{Subject: "health-batch-job", Agency: "health", Roles: []string{"publisher"}}
)

// TestHTTPIngestWithACLs runs the exchange as an ordinary Kafka user on a
// broker enforcing SASL and ACLs, with only the grants acl.Compile gives
// it with HTTPIngest: posted records are produced as the exchange (its
// WRITE on the ingress topic works), name their HTTP principal, and reach
// the social-services delivery topic with the agreement's transforms (the
// citizen id pseudonymised: absent from the delivered bytes, while the
// kept region is there). Then every refusal of the package doc, each
// leaving the ingress topic as it was.
func TestHTTPIngestWithACLs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange on a broker with ACLs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, admin := grantedACLWorld(ctx, t, acl.Options{ExchangePrincipal: "User:exchange", ManageACLs: true, HTTPIngest: true})
	data := t.TempDir()
	a, err := New(ctx, Config{
		Kafka: exchange.KafkaConfig{Config: w.conn(t, "exchange"), ManageACLs: true}, DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: copyExamples(t), RegisterSchemaFiles: true, KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		ReloadInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t),
		HTTPIngest:    httpingest.Config{Enabled: true, MaxRecords: 50, MaxBodyBytes: 64 << 10, RecordsPerSecond: 0.001, Burst: 50},
		SeedFromFiles: true, // dev mode's: the example agreements start active
	})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + runApp(ctx, t, a)
	ingress, social := names.Ingress(immunisations), names.Deliver("social-services", "health-to-social-2026-001")
	if err := kafkatest.Eventually(30*time.Second, func(err error) bool { return err == nil }, func() error { return fetch(ctx, admin, ingress) }); err != nil {
		t.Fatalf("the worker did not create %s: %v", ingress, err)
	}
	client := admin.Admin()

	recs := sampleRecords(t, "ok", 10)
	res := postRecords(t, base, immunisations, &healthPub, "", mustJSON(t, recs))
	var ok struct {
		Accepted  int                   `json:"accepted"`
		Positions []httpingest.Position `json:"positions"`
	}
	if res.code != 200 || json.Unmarshal(res.body, &ok) != nil || ok.Accepted != 10 || len(ok.Positions) != 10 {
		t.Fatalf("posting 10 valid records: %d %s", res.code, res.body)
	}
	onIngress := readTopic(ctx, t, client, ingress, 3)
	if len(onIngress) != 10 {
		t.Fatalf("%d records on %s, want the 10 accepted", len(onIngress), ingress)
	}
	for _, m := range onIngress {
		if h := header(m, httpingest.HeaderPrincipal); !strings.Contains(h, "agency health") {
			t.Fatalf("record at %d/%d: %s = %q, want the HTTP principal", m.Partition, m.Offset, httpingest.HeaderPrincipal, h)
		}
	}
	checkTransformed(ctx, t, client, social, recs)

	refusals(t, a, base, ingress, client)
	if n := topicSize(ctx, t, client, ingress, 3); n != 10+3 {
		t.Fatalf("%d records on %s after the refusals, want 13 (10, then 3 once despite the retry)", n, ingress)
	}
}

// grantedACLWorld is a kfake broker enforcing ACLs (the exchange an
// ordinary user) with the grants acl.Compile gives the example policy
// under opt, and its admin's clients.
func grantedACLWorld(ctx context.Context, t *testing.T, opt acl.Options) (*aclWorld, *kafkaclient.Clients) {
	t.Helper()
	w := newACLWorld(t, false)
	set, err := agreements.LoadDir(filepath.Join("..", "..", "deploy", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	admin := w.clients(t, w.admin)
	if _, err := aclsync.Sync(ctx, admin, set, time.Now(), opt, false); err != nil {
		t.Fatalf("granting the ACLs of the example policy: %v", err)
	}
	return w, admin
}

// header is the value of a record's header key.
func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkTransformed waits for deliveries on the social-services topic
// (the pilot regions' records that pass the quality rules) and checks its
// transforms: the citizen
// id is pseudonymised (its digits appear in no delivered value) while the
// kept region is delivered as sent.
func checkTransformed(ctx context.Context, t *testing.T, client *kafka.Client, topic string, sent []map[string]any) {
	t.Helper()
	var got []kafka.Message
	waitFor(t, "deliveries on "+topic, time.Minute, func() bool {
		got = readTopic(ctx, t, client, topic, 3)
		return len(got) > 0
	})
	for _, m := range got {
		for _, r := range sent {
			if id, _ := r["citizen_id"].(string); id != "" && bytes.Contains(m.Value, []byte(id)) {
				t.Fatalf("delivery %d/%d carries citizen id %s in clear: the pseudonymize transform did not apply", m.Partition, m.Offset, id)
			}
		}
		if !bytes.Contains(m.Value, []byte("north")) && !bytes.Contains(m.Value, []byte("east")) {
			t.Fatalf("delivery %d/%d lacks the kept region", m.Partition, m.Offset)
		}
		if header(m, exchange.HeaderAgreement) != "health-to-social-2026-001" {
			t.Fatalf("delivery %d/%d: agreement header %q", m.Partition, m.Offset, header(m, exchange.HeaderAgreement))
		}
	}
}

// refusals: a bad record (422 naming every bad index and field, nothing
// produced), a retry with the same Idempotency-Key (the first answer, no
// duplicate), the key with another body (422), the key in progress (409),
// 401, 403 (another agency's publisher, a consumer), 404, 413 (records,
// bytes) and 429. Of all of them only the first idempotent request
// produces (3 records).
func refusals(t *testing.T, a *App, base, ingress string, client *kafka.Client) {
	t.Helper()
	bad := sampleRecords(t, "bad", 5)
	bad[1]["age"] = "one"
	delete(bad[3], "vaccine")
	res := postRecords(t, base, immunisations, &healthPub, "", mustJSON(t, bad))
	var errs struct {
		Errors []httpingest.RecordError `json:"errors"`
	}
	if res.code != 422 || json.Unmarshal(res.body, &errs) != nil || len(errs.Errors) != 2 ||
		errs.Errors[0].Index != 1 || errs.Errors[0].Field != "age" || errs.Errors[1].Index != 3 || errs.Errors[1].Field != "vaccine" {
		t.Fatalf("a batch with bad records 1 (age) and 3 (vaccine): %d %s", res.code, res.body)
	}

	once := mustJSON(t, sampleRecords(t, "once", 3))
	first := postRecords(t, base, immunisations, &healthPub, "retry-1", once)
	again := postRecords(t, base, immunisations, &healthPub, "retry-1", once)
	if first.code != 200 || again.code != 200 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retry with the same Idempotency-Key: %d %s then %d %s, want the first answer replayed", first.code, first.body, again.code, again.body)
	}
	if res := postRecords(t, base, immunisations, &healthPub, "retry-1", mustJSON(t, sampleRecords(t, "other", 3))); res.code != 422 || !strings.Contains(string(res.body), "different request") {
		t.Fatalf("the key with another body: %d %s, want 422", res.code, res.body)
	}
	// A first request in flight holds its key: claim it as one would.
	now := time.Now()
	if _, ok, err := a.Store().ClaimIngestKey(context.Background(), store.IngestKey{Principal: "agency:health:health", Key: "in-flight",
		RequestHash: []byte("x"), Created: now, Expires: now.Add(time.Hour), LockedUntil: now.Add(time.Hour)}, now); err != nil || !ok {
		t.Fatalf("claiming in-flight: %v %v", ok, err)
	}
	if res := postRecords(t, base, immunisations, &healthPub, "in-flight", []byte(`[]`)); res.code != 409 || !strings.Contains(string(res.body), "in progress") {
		t.Fatalf("a key in progress: %d %s, want 409", res.code, res.body)
	}

	ones := mustJSON(t, sampleRecords(t, "refused", 1))
	for _, c := range []struct {
		name    string
		claims  *devissuer.Claims
		dataset string
		body    []byte
		code    int
		want    string
	}{
		{"no credentials", nil, immunisations, ones, 401, "credentials"},
		{"another agency's publisher", &taxPub, immunisations, ones, 403, `"missing":"agency"`},
		{"a consumer of the owner", &healthCons, immunisations, ones, 403, `"missing":"role"`},
		{"an unknown dataset", &healthPub, "health.unknown", ones, 404, "health.unknown"},
		{"too many records", &healthPub, immunisations, mustJSON(t, sampleRecords(t, "many", 51)), 413, "max_records"},
		{"too many bytes", &healthPub, immunisations, append(append([]byte(`[{"pad":"`), bytes.Repeat([]byte("x"), 70<<10)...), `"}]`...), 413, "max_body_bytes"},
	} {
		if res := postRecords(t, base, c.dataset, c.claims, "", c.body); res.code != c.code || !strings.Contains(string(res.body), c.want) {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, res.code, res.body, c.code, c.want)
		}
	}

	// 429: a principal that spent its bucket (50 records, refilled at
	// 0.001/s) on a full request is refused the next one.
	full := sampleRecords(t, "burst", 50)
	full[0]["age"] = "x" // refused as 422 after spending its tokens: nothing produced
	if res := postRecords(t, base, immunisations, &healthBurst, "", mustJSON(t, full)); res.code != 422 {
		t.Fatalf("the full request: %d %s", res.code, res.body)
	}
	res = postRecords(t, base, immunisations, &healthBurst, "", ones)
	if res.code != 429 || res.header.Get("Retry-After") == "" || res.header.Get("Retry-After") == "0" {
		t.Fatalf("over the rate: %d Retry-After %q %s, want 429 with Retry-After", res.code, res.header.Get("Retry-After"), res.body)
	}
	if res := postRecords(t, base, immunisations, &healthPub, "", []byte(`[]`)); res.code != 200 {
		t.Errorf("another principal is not limited by it: %d %s", res.code, res.body)
	}
}

// TestHTTPIngestBrokerStoppedMidRequest: the broker stops while a
// request's produce is at it: the answer is 503 with Retry-After, nothing
// is reported accepted, and no record is counted.
func TestHTTPIngestBrokerStoppedMidRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b, base := startStack(ctx, t, copyExamples(t), func(c *Config) {
		c.HTTPIngest = httpingest.Config{Enabled: true, ProduceTimeout: 3 * time.Second}
	})
	warm := mustJSON(t, sampleRecords(t, "warm", 2))
	waitFor(t, "a first accepted post (the worker creates the topic)", 30*time.Second, func() bool {
		return postRecords(t, base, immunisations, &healthPub, "", warm).code == 200
	})
	records := ingestedRecords(t, a)
	arrived := make(chan struct{})
	c := b.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(arrived)
		c.SleepControl(func() { <-ctx.Done() }) // until Close wakes it
		return nil, errors.New("broker stopped"), true
	})
	done := make(chan ingestResult, 1)
	go func() {
		done <- postRecords(t, base, immunisations, &healthPub, "stopped-1", mustJSON(t, sampleRecords(t, "lost", 5)))
	}()
	<-arrived
	b.Close()
	res := <-done
	if res.code != 503 || res.header.Get("Retry-After") == "" || strings.Contains(string(res.body), "accepted\":") {
		t.Fatalf("the broker stopped mid-request: %d Retry-After %q %s, want 503 and nothing accepted", res.code, res.header.Get("Retry-After"), res.body)
	}
	if got := ingestedRecords(t, a); got != records || got < 2 {
		t.Fatalf("records counted as accepted went from %v to %v", records, got)
	}
	// The key was released: a retry is not refused as a duplicate.
	if _, ok, err := a.Store().ClaimIngestKey(ctx, store.IngestKey{Principal: "agency:health:health", Key: "stopped-1", RequestHash: []byte("x"),
		Created: time.Now(), Expires: time.Now().Add(time.Hour), LockedUntil: time.Now().Add(time.Hour)}, time.Now()); err != nil || !ok {
		t.Fatalf("the key of the failed request is still held (%v, %v): its retry could never publish", ok, err)
	}
}

// ingestedRecords is exchange_ingest_records_total.
func ingestedRecords(t *testing.T, a *App) float64 {
	t.Helper()
	mfs, err := a.Config().Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "exchange_ingest_records_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no exchange_ingest_records_total")
	return 0
}
