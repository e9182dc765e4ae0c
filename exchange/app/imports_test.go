package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/server/auditapi/openapicheck"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// importWorld is the exchange on a broker enforcing SASL and ACLs with
// only the grants acl.Compile gives (as in dev mode), and a JSON-lines
// file of health.immunisations records for health to import.
type importWorld struct {
	ctx    context.Context
	base   string               // the exchange's HTTP root
	health *kafkaclient.Clients // the agency: WRITE and DESCRIBE on its ingress topic, no READ
	admin  *kafkaclient.Clients
	enc    *publish.Encoder
	file   string
	cp     string
	rows   int
}

func newImportWorld(ctx context.Context, t *testing.T, rows int) *importWorld {
	t.Helper()
	w, admin := grantedACLWorld(ctx, t, acl.Options{ExchangePrincipal: "User:exchange", ManageACLs: true})
	data := t.TempDir()
	a, err := New(ctx, Config{
		Kafka: exchange.KafkaConfig{Config: w.conn(t, "exchange"), ManageACLs: true}, DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: copyExamples(t), RegisterSchemaFiles: true, KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		ReloadInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	iw := &importWorld{ctx: ctx, base: "http://" + runApp(ctx, t, a), health: w.clients(t, "health"), admin: admin,
		file: filepath.Join(data, "visits.jsonl"), cp: filepath.Join(data, "visits.jsonl.checkpoint"), rows: rows}
	if err := kafkatest.Eventually(30*time.Second, func(err error) bool { return err == nil }, func() error { return fetch(ctx, admin, names.Ingress(immunisations)) }); err != nil {
		t.Fatalf("the worker did not create the ingress topic: %v", err)
	}
	sv, err := a.Registry().Latest(ctx, names.IngressSubject(immunisations))
	if err != nil {
		t.Fatal(err)
	}
	if iw.enc, err = publish.NewEncoder(&sv, ""); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, r := range sampleRecords(t, "import", rows) {
		b.Write(mustJSON(t, r))
		b.WriteByte('\n')
	}
	if err := os.WriteFile(iw.file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return iw
}

// lookup is the exchange's lookup called as claims (nil: anonymously).
func (w *importWorld) lookup(t *testing.T, claims *devissuer.Claims) publish.LineFinder {
	var hc *http.Client
	if claims != nil {
		hc = registryhttp.AuthClient(bearer(t, *claims))
	}
	return publish.ExchangeLines(hc, w.base, immunisations)
}

// run imports the file as health with a checkpoint, finding the lines
// after it with finder; stop, when it returns true after a batch, cancels
// the run there (a crash between batches).
func (w *importWorld) run(t *testing.T, finder publish.LineFinder, stop func(publish.Summary) bool) (*publish.Resume, publish.Summary, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	topic := names.Ingress(immunisations)
	r, err := publish.OpenResume(ctx, w.health, topic, w.file, w.cp, publish.JSONLines,
		publish.CheckpointInterval(0), publish.FindLinesWith(finder))
	if err != nil {
		return nil, publish.Summary{}, err
	}
	f, err := os.Open(w.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kw := publish.NewWriter(w.health, topic)
	defer kw.Close()
	sum, err := publish.Run(ctx, f, w.enc, kw, publish.WithFormat(publish.JSONLines), publish.WithResume(r), publish.WithBatchSize(20),
		publish.WithProgress(func(s publish.Summary) {
			if stop != nil && stop(s) {
				cancel()
			}
		}))
	return r, sum, err
}

// TestImportResumeUnderACLs: health, which may write its ingress topic but
// not read it, imports a file, crashes after batches acknowledged past its
// last checkpoint, and resumes: the exchange's lookup finds those records
// and the topic ends with every row exactly once. The lookup refuses a
// publisher of another agency and a consumer of health (403), and an
// anonymous caller (401); then checkLookupAnswers.
func TestImportResumeUnderACLs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange on a broker with ACLs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := newImportWorld(ctx, t, 200)
	lookup := w.lookup(t, &healthPub)

	// The crash window: the checkpoint of 60 rows is put back after 140
	// were acknowledged.
	var saved []byte
	_, sum, err := w.run(t, lookup, func(s publish.Summary) bool {
		if s.Published == 60 {
			saved, _ = os.ReadFile(w.cp)
		}
		return s.Published == 140
	})
	if !errors.Is(err, context.Canceled) || sum.Published != 140 || saved == nil {
		t.Fatalf("first run: summary %+v, err %v; want 140 published, canceled, a checkpoint at 60", sum, err)
	}
	if err := os.WriteFile(w.cp, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	// Reading the topic as health is refused: the lookup is the way.
	if _, _, err := w.run(t, publish.KafkaLines(w.health, names.Ingress(immunisations)), nil); !kafkatest.Denied(err) {
		t.Fatalf("resume reading the topic as health: %v; want the broker's refusal", err)
	}
	for _, c := range []struct {
		name   string
		claims *devissuer.Claims
		want   string
	}{
		{"publisher of tax", &taxPub, "403 Forbidden"},
		{"consumer of health", &healthCons, "403 Forbidden"},
		{"anonymous", nil, "401 Unauthorized"},
	} {
		if _, _, err := w.run(t, w.lookup(t, c.claims), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("resume with the lookup as %s: %v; want %s", c.name, err, c.want)
		}
	}

	r, sum, err := w.run(t, lookup, nil)
	if err != nil {
		t.Fatalf("resume through the exchange's lookup: %v", err)
	}
	if r.Found() != 80 || sum.Published != 200 || sum.Resumed != 80 || sum.Errors != 0 {
		t.Errorf("resume: found %d, summary %+v; want 80 found, 200 published of which 80 found", r.Found(), sum)
	}
	// Each row's line is on its record (publish.HeaderImportLine).
	counts := map[string]int{}
	for _, m := range readTopic(ctx, t, w.admin.Admin(), names.Ingress(immunisations), 3) {
		counts[header(m, publish.HeaderImportLine)]++
	}
	for line := 1; line <= w.rows; line++ {
		if n := counts[strconv.Itoa(line)]; n != 1 {
			t.Errorf("line %d on the topic %d times", line, n)
		}
	}
	if len(counts) != w.rows {
		t.Errorf("%d distinct lines on the topic, want %d", len(counts), w.rows)
	}
	checkLookupAnswers(ctx, t, w)
}

// checkLookupAnswers, after the import of w's file completed: an unknown
// dataset 404, a body not of the documented shape or naming a partition
// the topic lacks 400; from the start, every line of the file, in the
// documented shape, with no key or value.
func checkLookupAnswers(ctx context.Context, t *testing.T, w *importWorld) {
	t.Helper()
	post := func(dataset, id, body string) (int, string) {
		return do(t, healthPub, http.MethodPost, w.base+publish.ImportLinesPath(dataset, id), body)
	}
	for _, c := range []struct {
		dataset, id, body string
		code              int
	}{
		{"health.nope", "abc", `{"from":[]}`, 404},
		{immunisations, "abc", `{"from":[{"partition":7,"offset":0}]}`, 400},
		{immunisations, "abc", `{"from":[{"partition":0,"offset":-1}]}`, 400},
		{immunisations, "abc", `{"from":[{"partition":0,"offset":0},{"partition":0,"offset":1}]}`, 400},
		{immunisations, "abc", `{"start":[]}`, 400},
		{immunisations, "a b", `{"from":[]}`, 400},
	} {
		if code, body := post(c.dataset, c.id, c.body); code != c.code {
			t.Errorf("%s %s %s: %d %s; want %d", c.dataset, c.id, c.body, code, body, c.code)
		}
	}
	recs := readTopic(ctx, t, w.admin.Admin(), names.Ingress(immunisations), 3)
	if len(recs) != w.rows {
		t.Fatalf("%d records on the topic, want %d", len(recs), w.rows)
	}
	id := header(recs[0], publish.HeaderImport)
	code, body := post(immunisations, id, `{"from":[]}`)
	var a publish.ImportLinesAnswer
	if code != 200 || json.Unmarshal([]byte(body), &a) != nil || len(a.Lines) != w.rows || a.Lines[0] != 1 || a.Lines[w.rows-1] != w.rows || len(a.End) != 3 {
		t.Errorf("the whole topic: %d %s; want lines 1 to %d and 3 end offsets", code, body, w.rows)
	}
	// The answer is the documented one (exchange/server/auditapi/openapi.json).
	_, docBytes := do(t, healthPub, http.MethodGet, w.base+"/api/v1/openapi.json", "")
	doc, err := openapicheck.Document([]byte(docBytes))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := openapicheck.ResponseSchema(doc, "post", "/api/v1/datasets/{dataset}/imports/{import}/lines", "200")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	_ = json.Unmarshal([]byte(body), &v)
	if bad := openapicheck.Conform(doc, schema, v, "answer"); len(bad) > 0 {
		t.Errorf("the answer departs from the OpenAPI document: %v", bad)
	}
	if strings.Contains(body, "import-0") {
		t.Errorf("the answer holds a record's key or value: %s", body)
	}
	// Past the end: nothing.
	if code, body := post(immunisations, id, `{"from":[{"partition":0,"offset":1000},{"partition":1,"offset":1000},{"partition":2,"offset":1000}]}`); code != 200 || !strings.Contains(body, `"lines":[]`) {
		t.Errorf("past the end: %d %s", code, body)
	}
}
