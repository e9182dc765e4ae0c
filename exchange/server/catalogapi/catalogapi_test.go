package catalogapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

const examples = "../../../deploy/examples"

// world is a catalog handler over the example policy, a SQLite store and
// a registry holding the example schemas. Requests carry their principal
// in the context, as the server's authentication leaves it.
type world struct {
	h       *catalogapi.Handler
	mux     *http.ServeMux
	db      store.Backend
	set     *agreements.Set
	reg     *schemas.Registry
	mu      sync.Mutex
	notices []sla.Notice
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &world{db: db, reg: schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(slog.New(slog.DiscardHandler)))}
	avsc, _ := filepath.Glob(filepath.Join(examples, "*.avsc"))
	for _, p := range avsc {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.reg.Register(ctx, strings.TrimSuffix(filepath.Base(p), ".avsc"), string(text)); err != nil {
			t.Fatal(err)
		}
	}
	if w.set, err = agreements.LoadDir(examples); err != nil {
		t.Fatal(err)
	}
	plan := w.compile(t, w.set.Agreements)
	w.h = catalogapi.New(catalogapi.Config{
		Plan: func() *policy.Plan { return plan }, Agencies: func() []agreements.Agency { return w.set.Agencies },
		Schemas: w.reg, Requests: db, Documents: db, Proposer: catalogapi.StoreProposer{Docs: db},
		Notify: func(_ context.Context, ns []sla.Notice) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.notices = append(w.notices, ns...)
		},
	})
	w.mux = http.NewServeMux()
	w.h.Mount(w.mux)
	return w
}

// compile compiles the example policy with agreements as its agreements.
func (w *world) compile(t *testing.T, ags []agreements.Agreement) *policy.Plan {
	t.Helper()
	ctx := context.Background()
	subjects, _ := w.reg.Subjects(ctx)
	var versions []schemas.SchemaVersion
	for _, s := range subjects {
		vs, err := w.reg.Versions(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, vs...)
	}
	plan, err := policy.Compile(policy.Input{
		Agencies: w.set.Agencies, Contracts: w.set.Contracts, Agreements: ags, Calendars: w.set.Calendars,
		Schemas: versions, PseudonymKey: func(string) []byte { return []byte("k") }, SubjectKey: []byte("s"), Version: "v1",
		RegisterDerived: func(subject string, s avro.Schema) (int, error) { return w.reg.Register(ctx, subject, s.String()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// call sends method path with body as p (nil: no principal) and decodes
// the answer into out (when not nil).
func (w *world) call(t *testing.T, p *auth.Principal, method, path, body string, out any) int {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if p != nil {
		r = r.WithContext(auth.NewContext(r.Context(), p))
	}
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, r)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %d, body %q: %v", method, path, rec.Code, rec.Body, err)
		}
	}
	return rec.Code
}

func steward(name, agency string) *auth.Principal {
	return &auth.Principal{Kind: auth.KindSteward, Subject: name, Agency: agency, Roles: []string{auth.RoleSteward}, Method: auth.MethodOIDC}
}

var (
	statistics = steward("wei.zhang", "statistics")
	health     = steward("amara.okafor", "health")
)

// file files p's request for dataset and returns it.
func (w *world) file(t *testing.T, p *auth.Principal, dataset string, fields ...string) store.AccessRequest {
	t.Helper()
	b, _ := json.Marshal(catalogapi.FileRequest{Purpose: "official statistics", LegalBasis: "Statistics Act 2007, s.9", Fields: fields})
	var req store.AccessRequest
	if code := w.call(t, p, "POST", "/api/v1/catalog/"+dataset+"/requests", string(b), &req); code != http.StatusCreated {
		t.Fatalf("filing: %d %+v", code, req)
	}
	return req
}

// decide decides request id as p and returns the status and answer.
func (w *world) decide(t *testing.T, p *auth.Principal, id int64, accept bool) (int, store.AccessRequest) {
	t.Helper()
	var req store.AccessRequest
	code := w.call(t, p, "POST", fmt.Sprintf("/api/v1/catalog/requests/%d/decision", id), fmt.Sprintf(`{"accept": %v, "reason": "r"}`, accept), &req)
	return code, req
}

// TestAcceptedProposalCompiles: a request of health.immunisations with a
// sensitive identifier, a sensitive boolean and a personal number becomes
// an agreement pseudonymising the first, redacting the second (a boolean
// takes no pseudonym), keeping the third; the policy compiles with it.
func TestAcceptedProposalCompiles(t *testing.T) {
	w := newWorld(t)
	req := w.file(t, statistics, "health.immunisations", "citizen_id", "adverse_reaction", "age")
	code, dec := w.decide(t, health, req.ID, true)
	if code != http.StatusOK || dec.Status != store.AccessAccepted {
		t.Fatalf("accepting: %d %+v", code, dec)
	}
	doc, err := w.db.Document(context.Background(), agreements.KindAgreement, dec.Agreement, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := agreements.Load("proposed.yaml", doc.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc.YAML)
	}
	a := got.Agreements[0]
	want := []agreements.FieldRule{
		{Name: "citizen_id", Transform: agreements.Transform{Kind: agreements.Pseudonymize}},
		{Name: "adverse_reaction", Transform: agreements.Transform{Kind: agreements.Redact}},
		{Name: "age", Transform: agreements.Transform{Kind: agreements.Keep}},
	}
	if !slices.EqualFunc(a.Fields, want, func(x, y agreements.FieldRule) bool { return x.Name == y.Name && x.Transform == y.Transform }) {
		t.Errorf("proposed fields %+v, want %+v", a.Fields, want)
	}
	if a.Status != agreements.StatusProposed || a.ValidUntil.Sub(a.ValidFrom) != catalogapi.DefaultValidity {
		t.Errorf("proposed status %s, validity %s–%s", a.Status, a.ValidFrom, a.ValidUntil)
	}
	// Compiled against the registered schema, as the exchange would.
	w.compile(t, append(slices.Clone(w.set.Agreements), a))
}

// TestRejectNumberingAndNotices: a rejected request proposes nothing; two
// accepted ones get consecutive numbers after the examples' (and skip a
// number already taken); each step tells both agencies.
func TestRejectNumberingAndNotices(t *testing.T) {
	w := newWorld(t)
	year := time.Now().UTC().Year()
	r1 := w.file(t, statistics, "health.immunisations", "age")
	if code, dec := w.decide(t, health, r1.ID, false); code != http.StatusOK || dec.Status != store.AccessRejected || dec.Agreement != "" {
		t.Fatalf("rejecting: %d %+v", code, dec)
	}
	// The examples number up to 006 in 2026; a document takes the next one.
	next := 7
	if year != 2026 {
		next = 1
	}
	taken := fmt.Sprintf("health-to-statistics-%d-%03d", year, next)
	if _, err := w.db.PutDocument(context.Background(), store.Document{Kind: agreements.KindAgreement, ID: taken, YAML: []byte("kind: Agreement\nid: " + taken + "\n")}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 2 {
		r := w.file(t, statistics, "health.immunisations", "age")
		code, dec := w.decide(t, health, r.ID, true)
		if code != http.StatusOK {
			t.Fatalf("accepting: %d %+v", code, dec)
		}
		ids = append(ids, dec.Agreement)
	}
	want := []string{fmt.Sprintf("health-to-statistics-%d-%03d", year, next+1), fmt.Sprintf("health-to-statistics-%d-%03d", year, next+2)}
	if !slices.Equal(ids, want) {
		t.Errorf("proposed ids %v, want %v", ids, want)
	}
	w.h.Drain()
	var got []string
	for _, n := range w.notices {
		if n.Kind != sla.KindAccessRequest || n.Dataset != "health.immunisations" {
			t.Errorf("notice %+v", n)
		}
		got = append(got, n.Agency+":"+n.Reason)
	}
	wantN := []string{"statistics:requested", "health:requested", "statistics:rejected", "health:rejected"}
	for range 2 {
		wantN = append(wantN, "statistics:requested", "health:requested", "statistics:accepted", "health:accepted")
	}
	if !slices.Equal(got, wantN) {
		t.Errorf("notices %v\nwant %v", got, wantN)
	}
}

// TestRequestErrors: each bad call gets its status and a message naming
// what is wrong.
func TestRequestErrors(t *testing.T) {
	w := newWorld(t)
	req := w.file(t, statistics, "health.immunisations", "age")
	past := `{"purpose": "p", "legal_basis": "l", "fields": ["age", "age"], "valid_until": "2001-01-01T00:00:00Z"}`
	for _, c := range []struct {
		p            *auth.Principal
		method, path string
		body         string
		code         int
		want         string
	}{
		{nil, "POST", "/api/v1/catalog/health.immunisations/requests", `{}`, 403, "without authentication"},
		{statistics, "POST", "/api/v1/catalog/nobody.nothing/requests", `{}`, 404, "not in the catalog"},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", `not json`, 400, "body"},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", past, 400, `\"age\" named twice`},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", past, 400, "valid_until: 2001-01-01T00:00:00Z is not in the future"},
		{statistics, "POST", "/api/v1/catalog/health.immunisations/requests", `{"purpose": "p", "legal_basis": "l", "fields": []}`, 400, "fields: name at least one"},
		{steward("x.y", "statistics"), "POST", "/api/v1/catalog/health.immunisations/requests", `{}`, 403, "not among the stewards"},
		{health, "GET", "/api/v1/catalog/requests/abc", "", 400, "positive integer"},
		{health, "GET", "/api/v1/catalog/requests/999", "", 404, "not found"},
		{health, "POST", fmt.Sprintf("/api/v1/catalog/requests/%d/decision", req.ID), `{"reason": "r"}`, 400, "accept: required"},
		{health, "POST", "/api/v1/catalog/requests/999/decision", `{"accept": true}`, 404, "not found"},
		{statistics, "POST", fmt.Sprintf("/api/v1/catalog/requests/%d/decision", req.ID), `{"accept": true}`, 403, "only a steward of health"},
		{&auth.Principal{Kind: auth.KindAgency, Subject: "health", Agency: "health", Roles: []string{auth.RoleConsumer}}, "GET", "/api/v1/catalog/requests", "", 403, "stewards"},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		if c.p != nil {
			r = r.WithContext(auth.NewContext(r.Context(), c.p))
		}
		w.mux.ServeHTTP(rec, r)
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s %s: %d %s, want %d naming %q", c.method, c.path, c.body, rec.Code, rec.Body, c.code, c.want)
		}
	}
	// Without authentication (--insecure) reads are served, all of them.
	var l catalogapi.RequestList
	if code := w.call(t, nil, "GET", "/api/v1/catalog/requests", "", &l); code != http.StatusOK || len(l.Requests) != 1 {
		t.Errorf("anonymous list on an insecure server: %d %+v", code, l)
	}
}

// TestDefaultTransform: the default of each classification, and the
// redaction of a sensitive field no pseudonym fits.
func TestDefaultTransform(t *testing.T) {
	for _, c := range []struct {
		class agreements.Classification
		typ   string
		want  agreements.TransformKind
	}{
		{agreements.Public, `"string"`, agreements.Keep},
		{agreements.Internal, `"double"`, agreements.Keep},
		{agreements.Personal, `{"type":"int","logicalType":"date"}`, agreements.Keep},
		{agreements.Sensitive, `"string"`, agreements.Pseudonymize},
		{agreements.Sensitive, `["null","long"]`, agreements.Pseudonymize},
		{agreements.Sensitive, `"boolean"`, agreements.Redact},
		{agreements.Sensitive, `{"type":"int","logicalType":"date"}`, agreements.Redact},
		{"", `"string"`, agreements.Pseudonymize}, // unclassified: treated as sensitive
	} {
		if got := catalogapi.DefaultTransform(c.class, avro.MustParse(c.typ)).Kind; got != c.want {
			t.Errorf("%s %s: %s, want %s", c.class, c.typ, got, c.want)
		}
	}
	if got := catalogapi.DefaultTransform(agreements.Sensitive, nil).Kind; got != agreements.Pseudonymize {
		t.Errorf("sensitive, type unknown: %s", got)
	}
}
