package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// Stewards of deploy/examples/agencies.yaml.
var (
	civilSteward    = devissuer.Claims{Subject: "marco.bianchi", Agency: "civil-registry", Roles: []string{auth.RoleSteward}}
	auditorClaims   = devissuer.Claims{Subject: "dpo", Roles: []string{auth.RoleAuditor}}
	unlistedSteward = devissuer.Claims{Subject: "not.listed", Agency: "civil-registry", Roles: []string{auth.RoleSteward}}
)

// TestCatalogAndAccessRequests runs the catalog flow through the HTTP API
// of the assembled exchange on SQLite.
func TestCatalogAndAccessRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	catalogFlow(t, nil)
}

// TestCatalogAndAccessRequestsPostgres runs it on PostgreSQL when
// EXCHANGE_TEST_DATABASE_URL is set.
func TestCatalogAndAccessRequestsPostgres(t *testing.T) {
	super := os.Getenv(storetest.PostgresEnv)
	if super == "" || testing.Short() {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	url := storetest.CreateDatabase(t, super)
	catalogFlow(t, func(c *Config) { c.DatabaseURL = url })
}

// catalogFlow: anonymous callers get 401; the catalog lists the example
// datasets with classifications, quality rules, freshness and schema, and
// no value of a record published before; a consumer steward files a
// request (bad ones refused naming each problem); neither a third agency's
// steward nor the consumer's may decide it (403); the provider's steward
// accepts, which proposes an agreement of only the requested fields,
// sensitive ones pseudonymised, that loads and validates against the
// contract and goes through approval to active; a second decision is
// 409; both agencies get notices.
func catalogFlow(t *testing.T, edit func(*Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var edits []func(*Config)
	if edit != nil {
		edits = append(edits, edit)
	}
	a, b, base := startStack(ctx, t, copyExamples(t), edits...)
	if _, err := publishSample(ctx, t, a, b.Addr()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/catalog"}, {"GET", "/api/v1/catalog/civil-registry.births"}, {"GET", "/api/v1/catalog/requests"},
		{"POST", "/api/v1/catalog/civil-registry.births/requests"}, {"POST", "/api/v1/catalog/requests/1/decision"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: %d, want 401", c.method, c.path, resp.StatusCode)
		}
	}
	checkCatalog(t, base)
	id := fileRequest(t, base)
	agreementID := decideRequest(ctx, t, a, base, id)
	checkRequestNotices(ctx, t, a, b.Addr(), id, agreementID)
}

// checkCatalog: any principal reads the catalog; it describes the
// contracts and carries no record value.
func checkCatalog(t *testing.T, base string) {
	t.Helper()
	code, body := do(t, healthPublisher, "GET", base+"/api/v1/catalog", "")
	var cat catalogapi.Catalog
	if code != http.StatusOK || json.Unmarshal([]byte(body), &cat) != nil {
		t.Fatalf("catalog: %d %s", code, body)
	}
	var ids []string
	for _, d := range cat.Datasets {
		ids = append(ids, d.Dataset)
	}
	want := []string{"civil-registry.births", "health.immunisations", "social-services.benefit-claims", "tax.income-assessments"}
	if !slices.Equal(ids, want) {
		t.Fatalf("catalog datasets %v, want %v", ids, want)
	}
	policyText := examplesText(t) // enum symbols, region names of rules: policy, not record values
	for _, v := range sampleValues(t) {
		if strings.Contains(body, v) && !strings.Contains(policyText, v) {
			t.Errorf("the catalog holds the record value %q", v)
		}
	}
	code, body = do(t, statsSteward, "GET", base+"/api/v1/catalog/civil-registry.births", "")
	var d catalogapi.Dataset
	if code != http.StatusOK || json.Unmarshal([]byte(body), &d) != nil {
		t.Fatalf("catalog entry: %d %s", code, body)
	}
	if d.Owner != "civil-registry" || d.Freshness == nil || d.Freshness.ExpectedEvery == "" || len(d.Quality) != 2 ||
		d.Schema == nil || d.Schema.Subject != names.IngressSubject("civil-registry.births") || !strings.Contains(string(d.Schema.Schema), "birth_weight_grams") {
		t.Errorf("catalog entry of civil-registry.births: %s", body)
	}
	if i := slices.IndexFunc(d.Fields, func(f catalogapi.Field) bool { return f.Name == "child_id" }); i < 0 || d.Fields[i].Classification != "sensitive" {
		t.Errorf("child_id classification: %+v", d.Fields)
	}
	if code, _ := do(t, statsSteward, "GET", base+"/api/v1/catalog/nobody.nothing", ""); code != http.StatusNotFound {
		t.Errorf("an unknown dataset: %d, want 404", code)
	}
}

// examplesText is the text of the example policy (contracts, agreements,
// schemas), without the sample records.
func examplesText(t *testing.T) string {
	t.Helper()
	paths, _ := filepath.Glob("../../deploy/examples/*.*")
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// fileRequest files tax's request for births; bad requests are refused
// first, each problem named. It returns the request's id.
func fileRequest(t *testing.T, base string) int64 {
	t.Helper()
	url := base + "/api/v1/catalog/civil-registry.births/requests"
	code, body := do(t, taxSteward, "POST", url, `{"purpose": " ", "legal_basis": "", "fields": ["child_id", "shoe_size", "eye_colour"]}`)
	var bad struct{ Problems []string }
	_ = json.Unmarshal([]byte(body), &bad)
	for _, want := range []string{"purpose: required", "legal_basis: required", `"shoe_size" is not a field`, `"eye_colour" is not a field`} {
		if code != http.StatusBadRequest || !slices.ContainsFunc(bad.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("bad request: %d %s, want 400 naming %s", code, body, want)
		}
	}
	if code, body := do(t, taxSteward, "POST", url, `{"purpose": "x", "legal_basis": "y", "fields": ["child_id"], "colour": 1}`); code != http.StatusBadRequest || !strings.Contains(body, "colour") {
		t.Errorf("unknown key: %d %s", code, body)
	}
	if code, _ := do(t, civilSteward, "POST", url, `{"purpose": "x", "legal_basis": "y", "fields": ["child_id"]}`); code != http.StatusBadRequest {
		t.Errorf("the owner requesting its own dataset: %d, want 400", code)
	}
	if code, _ := do(t, healthPublisher, "POST", url, `{"purpose": "x", "legal_basis": "y", "fields": ["child_id"]}`); code != http.StatusForbidden {
		t.Errorf("an agency system filing: %d, want 403", code)
	}
	good := `{"purpose": "Automatic award of the child tax credit", "legal_basis": "Income Tax Act 2009, s.58A",
		"fields": ["child_id", "birth_date", "municipality", "birth_weight_grams"], "reason": "Finance Act 2026"}`
	code, body = do(t, taxSteward, "POST", url, good)
	var req store.AccessRequest
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &req) != nil {
		t.Fatalf("filing: %d %s", code, body)
	}
	if req.Consumer != "tax" || req.Provider != "civil-registry" || req.RequestedBy != "helena.marsh" || req.Status != store.AccessPending {
		t.Errorf("filed request: %+v", req)
	}
	return req.ID
}

// decideRequest: only the provider's listed steward decides; accepting
// proposes the minimised agreement; a second decision is 409. It returns
// the agreement's id.
func decideRequest(ctx context.Context, t *testing.T, a *App, base string, id int64) string {
	t.Helper()
	url := fmt.Sprintf("%s/api/v1/catalog/requests/%d", base, id)
	accept := `{"accept": true, "reason": "lawful and proportionate"}`
	for _, who := range []devissuer.Claims{statsSteward, taxSteward, unlistedSteward, auditorClaims} {
		if code, body := do(t, who, "POST", url+"/decision", accept); code != http.StatusForbidden {
			t.Errorf("%s deciding: %d %s, want 403", who.Subject, code, body)
		}
	}
	if code, _ := do(t, statsSteward, "GET", url, ""); code != http.StatusForbidden {
		t.Errorf("a third agency's steward reading the request: %d, want 403", code)
	}
	if n := listRequests(t, statsSteward, base); n != 0 {
		t.Errorf("a third agency's steward lists %d requests, want 0", n)
	}
	for _, who := range []devissuer.Claims{taxSteward, civilSteward, auditorClaims} {
		if n := listRequests(t, who, base); n != 1 {
			t.Errorf("%s lists %d requests, want 1", who.Subject, n)
		}
	}
	code, body := do(t, civilSteward, "POST", url+"/decision", accept)
	var req store.AccessRequest
	if code != http.StatusOK || json.Unmarshal([]byte(body), &req) != nil {
		t.Fatalf("accepting: %d %s", code, body)
	}
	year := time.Now().UTC().Year()
	if req.Status != store.AccessAccepted || req.DecidedBy != "marco.bianchi" ||
		!regexp.MustCompile(fmt.Sprintf(`^civil-registry-to-tax-%d-\d{3}$`, year)).MatchString(req.Agreement) {
		t.Fatalf("accepted request: %+v", req)
	}
	if _, ok := a.Plan().Agreement(req.Agreement); ok {
		t.Errorf("the proposed id %s is an agreement of the examples", req.Agreement)
	}
	if code, body := do(t, civilSteward, "POST", url+"/decision", `{"accept": false}`); code != http.StatusConflict {
		t.Errorf("deciding twice: %d %s, want 409", code, body)
	}
	checkProposed(ctx, t, a, req.Agreement)
	checkApproval(t, base, req.Agreement)
	return req.Agreement
}

// checkApproval: the proposed agreement is in the lifecycle, proposed by
// the provider's steward, and goes through approval like any other: the
// two parties' stewards approve its content hash and it becomes active.
func checkApproval(t *testing.T, base, id string) {
	t.Helper()
	url := base + "/api/v1/agreements/" + id
	var v stewardship.View
	if code, body := do(t, taxSteward, "GET", url, ""); code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("the proposed agreement through the agreements API: %d %s", code, body)
	}
	if v.Status != string(agreements.StatusProposed) || len(v.History) != 1 || !strings.HasPrefix(v.History[0].By, "marco.bianchi") {
		t.Fatalf("proposed agreement: %+v", v)
	}
	approve := fmt.Sprintf(`{"content_hash": %q}`, v.ContentHash)
	for _, who := range []devissuer.Claims{civilSteward, taxSteward} {
		if code, body := do(t, who, "POST", url+"/approve", approve); code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("%s approving: %d %s", who.Subject, code, body)
		}
	}
	if v.Status != string(agreements.StatusActive) {
		t.Errorf("approved by both parties: status %s, want active", v.Status)
	}
}

// listRequests is how many requests who sees.
func listRequests(t *testing.T, who devissuer.Claims, base string) int {
	t.Helper()
	code, body := do(t, who, "GET", base+"/api/v1/catalog/requests", "")
	var l catalogapi.RequestList
	if code != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("listing requests as %s: %d %s", who.Subject, code, body)
	}
	return len(l.Requests)
}

// checkProposed: the agreement is in the store, proposed, with only the
// requested fields (sensitive ones pseudonymised, the rest kept), and it
// validates with the example policy.
func checkProposed(ctx context.Context, t *testing.T, a *App, id string) {
	t.Helper()
	doc, err := a.Store().Document(ctx, agreements.KindAgreement, id, 0)
	if err != nil {
		t.Fatalf("the proposed agreement: %v", err)
	}
	if !strings.Contains(doc.Author, "marco.bianchi") {
		t.Errorf("proposed agreement document: status %s, author %s", doc.Status, doc.Author)
	}
	set, err := agreements.LoadDir("../../deploy/examples")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), id+".yaml")
	got, err := agreements.Load(name, doc.YAML)
	if err != nil || len(got.Agreements) != 1 {
		t.Fatalf("loading the proposed agreement: %v\n%s", err, doc.YAML)
	}
	set.Merge(got)
	if probs := agreements.Validate(set); len(probs) > 0 {
		t.Errorf("the proposed agreement does not validate: %v\n%s", probs, doc.YAML)
	}
	ag := got.Agreements[0]
	want := map[string]agreements.TransformKind{
		"child_id": agreements.Pseudonymize, "birth_weight_grams": agreements.Pseudonymize, // sensitive
		"birth_date": agreements.Keep, "municipality": agreements.Keep, // personal, public
	}
	if len(ag.Fields) != len(want) {
		t.Errorf("proposed fields %+v, want only %v", ag.Fields, want)
	}
	for _, f := range ag.Fields {
		if want[f.Name] != f.Transform.Kind {
			t.Errorf("field %s: %s, want %s", f.Name, f.Transform.Kind, want[f.Name])
		}
	}
	if ag.Purpose != "Automatic award of the child tax credit" || ag.LegalBasis != "Income Tax Act 2009, s.58A" || ag.Consumer != "tax" || ag.Provider != "civil-registry.births" {
		t.Errorf("proposed terms: %+v", ag)
	}
}

// checkRequestNotices: tax and civil-registry were each told of the
// request and of its acceptance, in the store (GET /api/v1/notices) and
// on their notices.<agency> topics.
func checkRequestNotices(ctx context.Context, t *testing.T, a *App, broker string, id int64, agreementID string) {
	t.Helper()
	told := func(ns []sla.Notice) bool {
		var seen []string
		for _, n := range ns {
			if n.Kind == sla.KindAccessRequest && strings.Contains(n.Detail, fmt.Sprintf("access request %d ", id)) {
				seen = append(seen, n.Reason)
				if n.Reason == "accepted" && n.Agreement != agreementID {
					t.Errorf("acceptance notice names agreement %q, want %s", n.Agreement, agreementID)
				}
			}
		}
		return slices.Contains(seen, "requested") && slices.Contains(seen, "accepted")
	}
	for _, agency := range []string{"tax", "civil-registry"} {
		waitFor(t, "access request notices to "+agency+" in the store", 30*time.Second, func() bool {
			ns, err := a.Store().Notices(ctx, sla.NoticeQuery{Agency: agency})
			if err != nil {
				t.Fatal(err)
			}
			return told(ns)
		})
		waitFor(t, "access request notices on notices."+agency, 30*time.Second, func() bool {
			ns, _ := readNotices(ctx, t, broker, agency)
			return told(ns)
		})
	}
}
