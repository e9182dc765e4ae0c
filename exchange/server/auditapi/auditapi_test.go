package auditapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

const agreementDoc = `kind: Agreement
id: hlth-soc-02
provider: health.immunisations
consumer: social-services
purpose: Eligibility assessment for the child benefit
legal_basis: "Social Services Act 2019, s.12(3)"
valid_from: 2026-01-01T00:00:00Z
valid_until: 2027-01-01T00:00:00Z
fields:
  record_id: keep
`

func setup(t *testing.T, opts ...auditapi.Option) http.Handler {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Append(ctx, storetest.Entries("ingress.health.immunisations", 0, 0, 30)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "hlth-soc-02", YAML: []byte(agreementDoc)}); err != nil {
		t.Fatal(err)
	}
	seedTimeliness(ctx, t, db)
	return auditapi.New(db, append([]auditapi.Option{auditapi.WithAgreements(auditapi.AgreementsFromStore(db)), auditapi.WithTimeliness(db),
		auditapi.WithClock(func() time.Time { return seedNow })}, opts...)...)
}

// TestWaitIndexed: ?wait=indexed answers after the index wait returned,
// 503 when the wait fails, and 400 for another value or a server without
// an index to wait for.
func TestWaitIndexed(t *testing.T) {
	waited := 0
	var fail error
	h := setup(t, auditapi.WithIndexWait(func(ctx context.Context) error {
		waited++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the index wait has no deadline")
		}
		return fail
	}))
	for _, target := range []string{"/api/v1/audit?wait=indexed&limit=5", "/api/v1/lineage?topic=ingress.health.immunisations&partition=0&offset=3&wait=indexed"} {
		before := waited
		if code, body := get(t, h, target); code != http.StatusOK {
			t.Errorf("%s: %d %v", target, code, body)
		}
		if waited != before+1 {
			t.Errorf("%s: the index wait ran %d times, want 1", target, waited-before)
		}
	}
	if code, _ := get(t, h, "/api/v1/audit?limit=5"); code != http.StatusOK || waited != 2 {
		t.Errorf("without wait: %d, waited %d times (want no wait)", code, waited)
	}
	fail = context.DeadlineExceeded
	if code, body := get(t, h, "/api/v1/audit?wait=indexed"); code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["error"]), "did not catch up") {
		t.Errorf("failing wait: %d %v, want 503 naming the index", code, body)
	}
	if code, _ := get(t, h, "/api/v1/audit?wait=yes"); code != http.StatusBadRequest {
		t.Errorf("wait=yes: %d, want 400", code)
	}
	if code, _ := get(t, setup(t), "/api/v1/audit?wait=indexed"); code != http.StatusBadRequest {
		t.Errorf("wait=indexed without an index: %d, want 400", code)
	}
}

func get(t *testing.T, h http.Handler, target string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: %d, body not JSON: %q", target, rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: content type %q", target, ct)
	}
	return rec.Code, body
}

func TestAudit(t *testing.T) {
	h := setup(t)
	code, body := get(t, h, "/api/v1/audit?dataset=health.immunisations&decision=delivered&limit=4")
	if code != 200 || len(body["entries"].([]any)) != 4 || body["next"] == nil {
		t.Fatalf("page 1: %d %v", code, body)
	}
	code, body = get(t, h, "/api/v1/audit?dataset=health.immunisations&decision=delivered&limit=4&after="+url.QueryEscape(body["next"].(string)))
	if code != 200 || len(body["entries"].([]any)) != 4 {
		t.Fatalf("page 2: %d %v", code, body)
	}
	e := body["entries"].([]any)[0].(map[string]any)
	if e["decision"] != "delivered" || e["hash"] == "" || e["deliveries"].([]any)[0].(map[string]any)["consumer"] != "statistics" {
		t.Fatalf("entry JSON: %v", e)
	}
	for target, want := range map[string]int{
		"/api/v1/audit?sort=dataset":                                    400,
		"/api/v1/audit?sort=decision_time%3B+DROP+TABLE+ledger_entries": 400,
		"/api/v1/audit?limit=100000":                                    400,
		"/api/v1/audit?from=yesterday":                                  400,
		"/api/v1/audit?bogus=1":                                         400,
		"/api/v1/audit?dataset=a&dataset=b":                             400,
		"/api/v1/audit?after=xyz":                                       400,
		"/api/v1/audit?partition=-1&topic=x":                            400,
		"/api/v1/audit?dataset=" + strings.Repeat("a", 2000):            400,
		"/api/v1/audit?dataset=x%27+OR+%271%27%3D%271":                  200,
		"/api/v1/nothing":                                               404,
	} {
		if code, body := get(t, h, target); code != want {
			t.Errorf("GET %s: %d %v, want %d", target, code, body, want)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/audit", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", rec.Code)
	}
}

func TestLineage(t *testing.T) {
	h := setup(t)
	for _, target := range []string{
		"/api/v1/lineage?topic=ingress.health.immunisations&partition=0&offset=9",
		"/api/v1/lineage?delivery_id=" + ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 0, 9),
	} {
		code, body := get(t, h, target)
		if code != 200 {
			t.Fatalf("GET %s: %d %v", target, code, body)
		}
		src := body["source"].(map[string]any)
		if src["offset"].(float64) != 9 || src["dataset"] != "health.immunisations" || body["decision"] != string(ledger.Delivered) {
			t.Fatalf("lineage source: %v", body)
		}
		ds := body["deliveries"].([]any)
		if len(ds) != 2 {
			t.Fatalf("lineage deliveries: %v", ds)
		}
		soc := ds[1].(map[string]any)
		if soc["consumer"] != "social-services" || soc["purpose"] != "Eligibility assessment for the child benefit" || soc["legal_basis"] != "Social Services Act 2019, s.12(3)" {
			t.Fatalf("lineage delivery: %v", soc)
		}
		if ds[0].(map[string]any)["purpose"] != nil {
			t.Fatalf("unknown agreement got a purpose: %v", ds[0])
		}
	}
	for target, want := range map[string]int{
		"/api/v1/lineage?delivery_id=nope": 400,
		"/api/v1/lineage?delivery_id=" + ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 0, 10): 404,
		"/api/v1/lineage?topic=ingress.health.immunisations&partition=0":                                         400,
		"/api/v1/lineage": 400,
		"/api/v1/lineage?delivery_id=x&topic=y&partition=0&offset=1":              400,
		"/api/v1/lineage?topic=ingress.health.immunisations&partition=0&offset=x": 400,
		"/api/v1/lineage?dataset=x":                                               400,
	} {
		if code, body := get(t, h, target); code != want {
			t.Errorf("GET %s: %d %v, want %d", target, code, body, want)
		}
	}
}

// TestLineageByVersion: a record delivered before a terms change shows the
// purpose, legal basis and transforms of the version it was delivered
// under (its ledger delivery carries that version's content hash); one
// delivered after shows the new terms; a hash no stored version has shows
// no terms rather than wrong ones.
func TestLineageByVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v2Doc := strings.Replace(strings.Replace(agreementDoc, "Eligibility assessment for the child benefit", "Fraud investigation", 1),
		"record_id: keep", "record_id: pseudonymise", 1)
	hashes := map[string]string{}
	for _, doc := range []string{agreementDoc, v2Doc} {
		if _, err := db.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "hlth-soc-02", YAML: []byte(doc)}); err != nil {
			t.Fatal(err)
		}
		set, err := agreements.Load("doc.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		hashes[set.Agreements[0].Purpose] = set.Agreements[0].ContentHash()
	}
	const topic = "ingress.health.immunisations"
	es := storetest.Entries(topic, 0, 0, 10) // offsets 0, 3, 6, 9 deliver
	for i := range es {
		for j := range es[i].Deliveries {
			switch {
			case i < 5:
				es[i].Deliveries[j].ContentHash = hashes["Eligibility assessment for the child benefit"]
			case i < 8:
				es[i].Deliveries[j].ContentHash = hashes["Fraud investigation"]
			default:
				es[i].Deliveries[j].ContentHash = strings.Repeat("0", 64)
			}
		}
	}
	if err := db.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	h := auditapi.New(db, auditapi.WithAgreements(auditapi.AgreementsFromStore(db)))
	for offset, want := range map[int]struct{ purpose, transform string }{
		3: {"Eligibility assessment for the child benefit", "keep"},
		6: {"Fraud investigation", "pseudonymise"},
		9: {"", ""},
	} {
		code, body := get(t, h, "/api/v1/lineage?delivery_id="+ledger.DeliveryID("hlth-soc-02", topic, 0, int64(offset)))
		if code != 200 {
			t.Fatalf("lineage of offset %d: %d %v", offset, code, body)
		}
		var soc map[string]any
		for _, d := range body["deliveries"].([]any) {
			if d.(map[string]any)["agreement"] == "hlth-soc-02" {
				soc = d.(map[string]any)
			}
		}
		purpose, _ := soc["purpose"].(string)
		var transform string
		if ts, ok := soc["transforms"].([]any); ok && len(ts) == 1 {
			transform, _ = ts[0].(map[string]any)["transform"].(string)
		}
		if purpose != want.purpose || transform != want.transform || soc["content_hash"] == "" {
			t.Errorf("offset %d: purpose %q transform %q (delivery %v), want %q %q", offset, purpose, transform, soc, want.purpose, want.transform)
		}
	}
	if rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify with content hashes: %v %+v", err, rep)
	}
}
