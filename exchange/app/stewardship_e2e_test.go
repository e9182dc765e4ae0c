package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/publish"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/schemas"
)

// Issue 13's "Done when", end to end in serve mode (no seeding: the
// examples' self-declared statuses are not proof) through the HTTP API and
// Kafka clients with each agency's own SASL credentials, on a broker
// enforcing the ACLs the exchange manages: on SQLite and on PostgreSQL.

const (
	birthsDataset = "civil-registry.births"
	attackID      = "civil-registry-to-tax-2026-006"
	attackFile    = "agreement-civil-registry-to-tax-2026-006.yaml"
	healthBirths  = "civil-registry-to-health-2026-003"
	healthBFile   = "agreement-civil-registry-to-health-2026-003.yaml"
)

// stewardWorld is one exchange process in serve mode on a SASL/ACL broker
// with managed ACLs, restartable on the same data.
type stewardWorld struct {
	w         *aclWorld
	dir, data string
	db        func(*Config)
	a         *App
	base      string
	stop      func()
}

func newStewardWorld(ctx context.Context, t *testing.T, db func(*Config)) *stewardWorld {
	t.Helper()
	s := &stewardWorld{w: newACLWorld(t, true), dir: copyExamples(t), data: t.TempDir(), db: db}
	s.start(ctx, t)
	return s
}

// start runs (again) the exchange process over s's data.
func (s *stewardWorld) start(ctx context.Context, t *testing.T) {
	t.Helper()
	cfg := Config{
		Kafka: exchange.KafkaConfig{Config: s.w.conn(t, "exchange"), ManageACLs: true}, DatabaseURL: "sqlite://" + filepath.Join(s.data, "x.db"),
		ContractsDir: s.dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(s.data, "secret.key"), CreateKey: true, SigningKeyFile: filepath.Join(s.data, "ledger.key"),
		ReloadInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t),
	}
	s.db(&cfg)
	a, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := runStoppable(ctx, t, a)
	s.a, s.base, s.stop = a, "http://"+addr, stop
}

// births publishes n valid birth registrations as the civil registry,
// with its own credentials, registered now; tag makes their ids unique.
func (s *stewardWorld) births(ctx context.Context, t *testing.T, tag string, n int) map[string]map[string]any {
	t.Helper()
	latest, err := s.a.Registry().Latest(ctx, names.IngressSubject(birthsDataset))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := publish.NewEncoder(&latest, "registration_id")
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.StampNow("registered_at", time.Now); err != nil {
		t.Fatal(err)
	}
	kc := s.w.clients(t, "civil-registry")
	topic := names.Ingress(birthsDataset)
	waitFor(t, "the births ingress topic", 30*time.Second, func() bool { return publish.CheckTopic(ctx, kc, topic) == nil })
	w := publish.NewWriter(kc, topic)
	defer w.Close()
	sent := map[string]map[string]any{}
	var lines strings.Builder
	for i := range n {
		r := map[string]any{"registration_id": fmt.Sprintf("reg-%s-%d", tag, i), "child_id": fmt.Sprintf("9%010d", 7000+i),
			"mother_id": fmt.Sprintf("8%010d", 3000+i), "birth_date": "2026-11-20", "sex": "FEMALE", "birth_weight_grams": 3100 + i,
			"plurality": 1, "municipality": "Northam", "postcode": "NE1 4ST", "registered_at": "2026-11-21T08:00:00Z"}
		sent[r["registration_id"].(string)] = r
		lines.Write(mustJSON(t, r))
		lines.WriteByte('\n')
	}
	sum, err := publish.Run(ctx, strings.NewReader(lines.String()), enc, w)
	if err != nil || sum.Published != n {
		t.Fatalf("publishing %d births: %+v %v", n, sum, err)
	}
	return sent
}

// delivered reads agreement id's delivery topic as consumer, with the
// consumer's credentials, and decodes each record with the schema it names.
func (s *stewardWorld) delivered(ctx context.Context, t *testing.T, consumer, id string) []map[string]any {
	t.Helper()
	c := s.w.clients(t, consumer)
	var out []map[string]any
	for _, m := range readTopic(ctx, t, c.Admin(), names.Deliver(consumer, id), s.a.Config().Kafka.Partitions) {
		sid, body, err := schemas.ParseFrame(m.Value)
		if err != nil {
			t.Fatalf("a delivery of %s is not framed: %v", id, err)
		}
		sch, err := s.a.Registry().SchemaByID(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := avro.Unmarshal(sch.Avro, body, &v); err != nil {
			t.Fatalf("decoding a delivery of %s: %v", id, err)
		}
		out = append(out, v)
	}
	return out
}

// size is how many records agreement id's delivery topic holds (read as
// the broker's super user; 0 when the topic does not exist).
func (s *stewardWorld) size(ctx context.Context, t *testing.T, consumer, id string) int64 {
	t.Helper()
	c := s.w.clients(t, s.w.admin)
	topic := names.Deliver(consumer, id)
	if publish.CheckTopic(ctx, c, topic) != nil {
		return 0
	}
	return topicSize(ctx, t, c.Admin(), topic, s.a.Config().Kafka.Partitions)
}

// approveBoth has the provider's and the consumer's stewards approve
// agreement id's content hash through the API; it must end active.
func (s *stewardWorld) approveBoth(t *testing.T, id string, provider, consumer string) {
	t.Helper()
	v := agreementAs(t, auditorClaims, s.base, id)
	for _, who := range []string{provider, consumer} {
		if code, body := post(t, stewardOf(t, who), s.base, agreementsURL+"/"+id+"/approve", `{"content_hash":"`+v.ContentHash+`"}`); code != http.StatusOK {
			t.Fatalf("%s's steward approving %s: %d %s", who, id, code, body)
		}
	}
	if v := agreementAs(t, auditorClaims, s.base, id); v.Status != string(agreements.StatusActive) {
		t.Fatalf("%s approved by both parties: %s, want active", id, v.Status)
	}
}

// activate has both parties' stewards approve agreement id, waits for the
// plan to compile it active and for the ACL sync to let the consumer read
// its delivery topic (which the worker created).
func (s *stewardWorld) activate(ctx context.Context, t *testing.T, id, provider, consumer string) {
	t.Helper()
	s.approveBoth(t, id, provider, consumer)
	waitFor(t, "the plan to compile "+id+" active", 30*time.Second, func() bool {
		info, ok := s.a.Plan().Agreement(id)
		return ok && info.Status == agreements.StatusActive
	})
	c := s.w.clients(t, consumer)
	waitFor(t, consumer+" reading its delivery topic of "+id, 30*time.Second, func() bool { return fetch(ctx, c, names.Deliver(consumer, id)) == nil })
}

// TestStewardshipEndToEnd runs issue 13's Done-when bullets that need
// records flowing, in serve mode on SQLite and on PostgreSQL (skipped
// without EXCHANGE_TEST_DATABASE_URL): accessRequestDelivers,
// fileEditAttackDeliversNothing, revocationHoldsEndToEnd.
func TestStewardshipEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange on a broker with ACLs")
	}
	t.Run("sqlite", func(t *testing.T) { stewardshipEndToEnd(t, func(*Config) {}) })
	t.Run("postgres", func(t *testing.T) {
		super := os.Getenv(storetest.PostgresEnv)
		if super == "" {
			t.Skipf("%s is not set", storetest.PostgresEnv)
		}
		url := storetest.CreateDatabase(t, super)
		stewardshipEndToEnd(t, func(c *Config) { c.DatabaseURL = url })
	})
}

func stewardshipEndToEnd(t *testing.T, db func(*Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := newStewardWorld(ctx, t, db)
	id := accessRequestDelivers(ctx, t, s)
	fileEditAttackDeliversNothing(ctx, t, s, id)
	expiryStopsDelivering(ctx, t, s, id)
	revocationHoldsEndToEnd(ctx, t, s, id)
	if rep, err := ledger.Verify(ctx, s.a.Store(), ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep)
	}
}

// accessRequestDelivers: tax requests births fields through the catalog,
// the civil registry's steward accepts (a proposed agreement no file
// holds), both stewards approve it; the plan then compiles it active, the
// ACL sync grants tax's read, and births published after that reach
// deliver.tax.<id>, read with tax's credentials, with only the requested
// fields and the sensitive ones pseudonymised. It returns the agreement id.
func accessRequestDelivers(ctx context.Context, t *testing.T, s *stewardWorld) string {
	t.Helper()
	code, body := do(t, taxSteward, "POST", s.base+"/api/v1/catalog/"+birthsDataset+"/requests",
		`{"purpose": "Automatic award of the child tax credit", "legal_basis": "Income Tax Act 2009, s.58A", "fields": ["child_id", "birth_date", "municipality"]}`)
	var req struct {
		ID        int64  `json:"id"`
		Agreement string `json:"agreement"`
	}
	if code != http.StatusCreated || jsonInto(body, &req) != nil {
		t.Fatalf("filing the access request: %d %s", code, body)
	}
	code, body = do(t, civilSteward, "POST", fmt.Sprintf("%s/api/v1/catalog/requests/%d/decision", s.base, req.ID), `{"accept": true, "reason": "proportionate"}`)
	if code != http.StatusOK || jsonInto(body, &req) != nil || req.Agreement == "" {
		t.Fatalf("accepting the access request: %d %s", code, body)
	}
	id := req.Agreement
	waitFor(t, "the proposed agreement compiled", 30*time.Second, func() bool {
		info, ok := s.a.Plan().Agreement(id)
		return ok && info.Status == agreements.StatusProposed
	})
	s.activate(ctx, t, id, "civil-registry", "tax")

	sent := s.births(ctx, t, "ar", 5)
	var got []map[string]any
	waitFor(t, "the births delivered to "+id, time.Minute, func() bool {
		got = s.delivered(ctx, t, "tax", id)
		return len(got) >= len(sent)
	})
	checkMinimised(t, got, sent)
	return id
}

// checkMinimised: each delivery holds exactly child_id (pseudonymised),
// birth_date and municipality (kept) of a record sent.
func checkMinimised(t *testing.T, got []map[string]any, sent map[string]map[string]any) {
	t.Helper()
	raw := map[string]bool{}
	for _, r := range sent {
		raw[r["child_id"].(string)] = true
	}
	for _, v := range got {
		if len(v) != 3 || v["municipality"] != "Northam" || v["birth_date"] == nil {
			t.Errorf("a delivery holds %v, want child_id, birth_date and municipality only", v)
		}
		if c, _ := v["child_id"].(string); c == "" || raw[c] {
			t.Errorf("child_id %q delivered, want a pseudonym", c)
		}
	}
}

// fileEditAttackDeliversNothing replays the attack on the
// proposed child tax credit agreement: one edit adds a made-up tax
// approval, history lines, status: active and an earlier valid_from. The
// agreement stays proposed, and births published after the edit (which
// reach the access request's agreement, so they were processed) never
// reach deliver.tax.<attack>.
func fileEditAttackDeliversNothing(ctx context.Context, t *testing.T, s *stewardWorld, witness string) {
	t.Helper()
	p := filepath.Join(s.dir, attackFile)
	text, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(
		"status: proposed", "status: active",
		"valid_from: 2027-01-01T00:00:00Z", "valid_from: 2026-01-01T00:00:00Z",
		"  - {agency: civil-registry, steward: marco.bianchi, at: 2026-11-02T11:30:00Z}",
		"  - {agency: civil-registry, steward: marco.bianchi, at: 2026-11-02T11:30:00Z}\n  - {agency: tax, steward: helena.marsh, at: 2026-11-03T09:00:00Z}",
		`reason: "Finance Act 2026 receives royal assent"}`,
		`reason: "Finance Act 2026 receives royal assent"}`+"\n  - {from: proposed, to: approved, by: anyone-at-all, at: 2026-11-03T09:00:00Z, reason: ok}\n  - {from: approved, to: active, by: anyone-at-all, at: 2026-11-03T09:01:00Z, reason: ok}",
	).Replace(string(text))
	if !strings.Contains(edited, "{agency: tax, steward: helena.marsh") || !strings.Contains(edited, "status: active") || !strings.Contains(edited, "anyone-at-all") {
		t.Fatal("the example attack file changed; adjust this test")
	}
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.a.Reload(ctx); err != nil {
		t.Fatalf("reloading the edited file: %v", err)
	}
	if info, ok := s.a.Plan().Agreement(attackID); !ok || info.Status != agreements.StatusProposed {
		t.Fatalf("after the attack the plan compiles %s as %+v, want proposed", attackID, info)
	}
	if v := agreementAs(t, auditorClaims, s.base, attackID); v.Status != string(agreements.StatusProposed) || len(v.Approvals) != 0 {
		t.Fatalf("after the attack: %+v, want proposed with no approvals", v)
	}
	before := len(s.delivered(ctx, t, "tax", witness))
	sent := s.births(ctx, t, "attack", 5)
	waitFor(t, "the births after the attack processed", time.Minute, func() bool {
		return len(s.delivered(ctx, t, "tax", witness)) >= before+len(sent)
	})
	if n := s.size(ctx, t, "tax", attackID); n != 0 {
		t.Fatalf("the self-approved agreement %s received %d records", attackID, n)
	}
}

// jsonInto decodes a JSON body.
func jsonInto(body string, v any) error { return json.Unmarshal([]byte(body), v) }

// stewardOf is a listed steward of agency (deploy/examples/agencies.yaml).
func stewardOf(t *testing.T, agency string) devissuer.Claims {
	t.Helper()
	for _, c := range []devissuer.Claims{civilSteward, taxSteward, healthSteward, statsSteward} {
		if c.Agency == agency {
			return c
		}
	}
	t.Fatalf("no steward of %s in the tests", agency)
	return devissuer.Claims{}
}

// revocationHoldsEndToEnd: the civil registry → health agreement (a
// file's, approved through the API) delivers; health's schema stops
// compiling (a version the registry's guard would refuse, written past
// it), then the civil registry's steward revokes through the API. Births
// published 2 s later reach the access request's agreement (witness) and
// never health's; putting a changed file and then the old one back,
// restarting the process and POSTing to: active (409) leave it revoked
// and delivering nothing. The revocation is in agreement_transitions with
// the steward who made it.
func revocationHoldsEndToEnd(ctx context.Context, t *testing.T, s *stewardWorld, witness string) {
	t.Helper()
	termsChangeClearsApproval(ctx, t, s)
	s.approveBoth(t, healthBirths, "civil-registry", "health")
	waitFor(t, "the plan to compile "+healthBirths+" active", 30*time.Second, func() bool {
		info, ok := s.a.Plan().Agreement(healthBirths)
		return ok && info.Status == agreements.StatusActive
	})
	s.births(ctx, t, "rv1", 3)
	waitFor(t, "births delivered to health", time.Minute, func() bool { return s.size(ctx, t, "health", healthBirths) >= 3 })
	delivered := s.size(ctx, t, "health", healthBirths)

	bypass := schemas.NewRegistry(s.a.Store().Schemas(), schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if _, err := bypass.Register(ctx, healthSubject, healthSchemaWith(t, "citizen_id", "")); err != nil {
		t.Fatal(err)
	}
	if err := s.a.Reload(ctx); err != nil || len(s.a.Plan().Broken()) != 1 {
		t.Fatalf("health's schema broken: reload %v, broken %+v", err, s.a.Plan().Broken())
	}
	url := agreementsURL + "/" + healthBirths + "/transitions"
	if code, body := post(t, civilSteward, s.base, url, `{"to":"revoked","reason":"register audit"}`); code != http.StatusOK {
		t.Fatalf("revoking: %d %s", code, body)
	}
	time.Sleep(2 * time.Second) // the bound: records published 2 s after the action
	nothingReachesHealth := func(tag string) {
		t.Helper()
		before := len(s.delivered(ctx, t, "tax", witness))
		sent := s.births(ctx, t, tag, 5)
		waitFor(t, "births "+tag+" processed", time.Minute, func() bool { return len(s.delivered(ctx, t, "tax", witness)) >= before+len(sent) })
		if n := s.size(ctx, t, "health", healthBirths); n != delivered {
			t.Fatalf("%s: health received %d records after the revocation", tag, n-delivered)
		}
	}
	nothingReachesHealth("rv2")

	p := filepath.Join(s.dir, healthBFile)
	old, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	editWord(t, p, "Scheduling invitations", "Scheduling reminders")
	if err := s.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, old, 0o600); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.start(ctx, t)
	if code, body := post(t, healthSteward, s.base, url, `{"to":"active","reason":"again"}`); code != http.StatusConflict {
		t.Fatalf("POST to: active on a revoked agreement: %d %s, want 409", code, body)
	}
	nothingReachesHealth("rv3")
	v := agreementAs(t, auditorClaims, s.base, healthBirths)
	last := v.History[len(v.History)-1]
	if v.Status != string(agreements.StatusRevoked) || last.To != "revoked" || last.By != "marco.bianchi@civil-registry" || last.Reason != "register audit" {
		t.Fatalf("after the old file, a restart and to: active: %+v", v)
	}
}

// TestStoredTermsNoLongerValidLeftOut: terms proposed through the API and
// approved (no file holds them) compile active; when the contract then
// changes under them (the field they keep becomes sensitive), the reload
// still succeeds, every other agreement stays compiled, and that one is
// left out, named on /readyz's "agreements" detail.
func TestStoredTermsNoLongerValidLeftOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := copyExamples(t)
	a, _, base := startStack(ctx, t, dir)
	const id = "civil-registry-to-statistics-2027-020"
	terms := `{"kind": "Agreement", "id": "` + id + `", "provider": "civil-registry.births", "consumer": "statistics",
		"purpose": "Births by sex for the vital statistics.", "legal_basis": "Statistics Act 2011, s.9(1)",
		"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z", "fields": {"sex": "keep", "municipality": "keep"}}`
	if code, body := post(t, statsSteward, base, agreementsURL, terms); code != http.StatusOK {
		t.Fatalf("proposing: %d %s", code, body)
	}
	s := &stewardWorld{a: a, base: base}
	s.approveBoth(t, id, "civil-registry", "statistics")
	waitFor(t, "the plan to compile "+id+" active", 30*time.Second, func() bool {
		info, ok := a.Plan().Agreement(id)
		return ok && info.Status == agreements.StatusActive
	})
	if d := readyDetails(t, base)["agreements"]; d != "" {
		t.Fatalf("/readyz agreements detail %q before the contract changed", d)
	}
	editWord(t, filepath.Join(dir, "contract-civil-registry.births.yaml"), "sex: personal", "sex: sensitive")
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("a contract change under stored terms refused the plan: %v", err)
	}
	if info, ok := a.Plan().Agreement(id); ok {
		t.Fatalf("terms that keep a sensitive field compiled: %+v", info)
	}
	if _, ok := a.Plan().Agreement(healthBirths); !ok {
		t.Fatalf("%s left out too", healthBirths)
	}
	if d := readyDetails(t, base)["agreements"]; !strings.Contains(d, id) || !strings.Contains(d, "sex") {
		t.Fatalf("/readyz agreements detail %q, want %s and the field named", d, id)
	}
}

// readyDetails are /readyz's details.
func readyDetails(t *testing.T, base string) map[string]string {
	t.Helper()
	_, body := call(t, "GET", base+"/readyz", "")
	var r struct {
		Details map[string]string `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("/readyz: %v: %s", err, body)
	}
	return r.Details
}

// termsChangeClearsApproval: the civil registry's steward approves the
// civil registry → health agreement; its file's terms then change, which
// moves it back to proposed with no approvals, and the approval of the
// old content hash no longer counts (409 for the other party).
func termsChangeClearsApproval(ctx context.Context, t *testing.T, s *stewardWorld) {
	t.Helper()
	v := agreementAs(t, auditorClaims, s.base, healthBirths)
	approve := func(who devissuer.Claims, hash string) (int, string) {
		return post(t, who, s.base, agreementsURL+"/"+healthBirths+"/approve", `{"content_hash":"`+hash+`"}`)
	}
	if code, body := approve(civilSteward, v.ContentHash); code != http.StatusOK {
		t.Fatalf("the civil registry approving: %d %s", code, body)
	}
	editWord(t, filepath.Join(s.dir, healthBFile), "for every", "for each")
	if err := s.a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	got := agreementAs(t, auditorClaims, s.base, healthBirths)
	if got.Status != string(agreements.StatusProposed) || len(got.Approvals) != 0 || got.ContentHash == v.ContentHash {
		t.Fatalf("after a terms change: %+v, want proposed with no approvals under a new content hash", got)
	}
	if code, body := approve(healthSteward, v.ContentHash); code != http.StatusConflict {
		t.Fatalf("health approving the old content hash: %d %s, want 409", code, body)
	}
}

// expiryStopsDelivering: terms proposed through the API by the statistics
// steward, valid until a few seconds ahead, approved by both parties,
// deliver; at valid_until the agreement expires by itself (recorded as the
// exchange, with no record published), and births published after that
// reach witness but not statistics.
func expiryStopsDelivering(ctx context.Context, t *testing.T, s *stewardWorld, witness string) {
	t.Helper()
	const id = "civil-registry-to-statistics-2026-030"
	until := time.Now().Add(10 * time.Second).UTC().Truncate(time.Second)
	terms := `{"kind": "Agreement", "id": "` + id + `", "provider": "civil-registry.births", "consumer": "statistics",
		"purpose": "Births by municipality for the vital statistics.", "legal_basis": "Statistics Act 2011, s.9(1)",
		"valid_from": "2026-01-01T00:00:00Z", "valid_until": "` + until.Format(time.RFC3339) + `", "fields": {"municipality": "keep", "plurality": "keep"}}`
	if code, body := post(t, statsSteward, s.base, agreementsURL, terms); code != http.StatusOK {
		t.Fatalf("proposing: %d %s", code, body)
	}
	s.activate(ctx, t, id, "civil-registry", "statistics")
	sent := s.births(ctx, t, "exp1", 3)
	waitFor(t, "births delivered to statistics", 30*time.Second, func() bool { return len(s.delivered(ctx, t, "statistics", id)) >= len(sent) })
	if time.Now().After(until) {
		t.Fatalf("the setup outlasted valid_until %v; give it more time", until)
	}
	var v stewardship.View
	waitFor(t, "the expiry to be recorded", time.Until(until)+30*time.Second, func() bool {
		v = agreementAs(t, auditorClaims, s.base, id)
		return v.Status == string(agreements.StatusExpired)
	})
	if last := v.History[len(v.History)-1]; last.By != ExpiryActor || last.At.Before(until) {
		t.Fatalf("expiry recorded as %+v, want by %s at or after %v", last, ExpiryActor, until)
	}
	delivered := s.size(ctx, t, "statistics", id)
	before := len(s.delivered(ctx, t, "tax", witness))
	sent = s.births(ctx, t, "exp2", 3)
	waitFor(t, "births after the expiry processed", time.Minute, func() bool { return len(s.delivered(ctx, t, "tax", witness)) >= before+len(sent) })
	if n := s.size(ctx, t, "statistics", id); n != delivered {
		t.Fatalf("the expired agreement received %d records", n-delivered)
	}
}
