package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
	"github.com/exchange-gov/exchange/policy"
)

const (
	statsAgreement = "health-to-statistics-2026-002"
	statsFile      = "agreement-health-to-statistics-2026-002.yaml"
)

// seeded starts the exchange with the example agreements seeded from their
// files (dev mode's way: their status active), and checks the plan
// compiles the statistics agreement active.
func seeded(ctx context.Context, t *testing.T, dir string, edits ...func(*Config)) (*App, string, string) {
	t.Helper()
	edits = append([]func(*Config){func(c *Config) { c.SeedFromFiles = true }}, edits...)
	a, b, base := startStack(ctx, t, dir, edits...)
	if info, ok := a.Plan().Agreement(statsAgreement); !ok || info.Status != agreements.StatusActive {
		t.Fatalf("seeded agreement %s compiled %+v, want active", statsAgreement, info)
	}
	return a, b.Addr(), base
}

// revokeStored records a steward's revocation of active agreement id in
// the store (files cannot revoke: issue 13).
func revokeStored(ctx context.Context, t *testing.T, a *App, id string) {
	t.Helper()
	if _, err := a.Store().AddTransition(ctx, store.Transition{
		AgreementID: id, From: agreements.StatusActive, To: agreements.StatusRevoked, By: "priya.raman", Reason: "governance committee decision",
	}); err != nil {
		t.Fatalf("revoking %s: %v", id, err)
	}
}

// immunisations publishes n fresh, valid immunisation records.
type immunisationPublisher struct {
	ctx context.Context
	t   *testing.T
	g   *gen.Generator
	w   *kafka.Writer
}

func newImmunisations(ctx context.Context, t *testing.T, a *App, broker string) *immunisationPublisher {
	t.Helper()
	latest, err := a.Registry().Latest(ctx, "ingress.health.immunisations-value")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gen.New(latest.Avro, latest.ID, gen.EventTime("administered_at"), gen.Seed(5))
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: names.Ingress("health.immunisations"), RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: &kafka.Hash{}}
	t.Cleanup(func() { w.Close() })
	return &immunisationPublisher{ctx: ctx, t: t, g: g, w: w}
}

func (p *immunisationPublisher) publish(n int) {
	p.t.Helper()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		key, value, _, err := p.g.Next(time.Now())
		if err != nil {
			p.t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: key, Value: value}
	}
	waitFor(p.t, "publishing", 30*time.Second, func() bool { return p.w.WriteMessages(p.ctx, msgs...) == nil })
}

// entries reads every ledger entry of health.immunisations, oldest first.
func entries(ctx context.Context, t *testing.T, a *App) []ledger.Entry {
	t.Helper()
	page, err := a.Store().Query(ctx, ledger.Query{Dataset: "health.immunisations", Limit: ledger.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

// TestRevocationHoldsWhilePolicyBroken: the kill switch. A revocation
// recorded in the store stops deliveries of records published after it,
// while the contracts directory has a problem elsewhere, so no plan can be
// compiled (the plan in force still has the agreement active): the gate
// alone stops them. Each record is audited as skipped (revoked); the
// earlier deliveries carry the terms' content hash; the ledger verifies;
// a restart leaves the agreement revoked.
func TestRevocationHoldsWhilePolicyBroken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	revocationHolds(t)
}

// TestRevocationHoldsWhilePolicyBrokenPostgres is the same on PostgreSQL.
func TestRevocationHoldsWhilePolicyBrokenPostgres(t *testing.T) {
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	revocationHolds(t, func(c *Config) { c.DatabaseURL = url })
}

func revocationHolds(t *testing.T, edits ...func(*Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	a, broker, _ := seeded(ctx, t, dir, edits...)
	info, _ := a.Plan().Agreement(statsAgreement)
	pub := newImmunisations(ctx, t, a, broker)
	client := &kafka.Client{Addr: kafka.TCP(broker)}
	stats := names.Deliver("statistics", statsAgreement)

	pub.publish(20)
	waitFor(t, "20 audited decisions", time.Minute, func() bool { return len(entries(ctx, t, a)) == 20 })
	if n := topicSize(ctx, t, client, stats, 3); n != 20 {
		t.Fatalf("statistics received %d of 20 records while active", n)
	}

	// Another agreement's file breaks: no plan compiles any more.
	p := filepath.Join(dir, "agreement-tax-to-social-2026-004.yaml")
	text, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append(text, "no_such_key: 1\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to be refused", 30*time.Second, func() bool { return a.LastReloadError() != nil })

	revokeStored(ctx, t, a, statsAgreement)
	// The bound: records published 2 s after the action.
	time.Sleep(2 * time.Second)
	if got, _ := a.Plan().Agreement(statsAgreement); got.Status != agreements.StatusActive {
		t.Fatalf("the plan in force has the agreement %s; this test needs it still compiled active", got.Status)
	}
	pub.publish(20)
	waitFor(t, "40 audited decisions", time.Minute, func() bool { return len(entries(ctx, t, a)) == 40 })
	if n := topicSize(ctx, t, client, stats, 3); n != 20 {
		t.Fatalf("statistics received %d records after its revocation, want none", n-20)
	}
	es := entries(ctx, t, a)
	for i, e := range es {
		var delivered, skipped bool
		for _, d := range e.Deliveries {
			if d.AgreementID == statsAgreement {
				delivered = d.ContentHash == info.ContentHash
			}
		}
		for _, s := range e.Skips {
			skipped = skipped || s.AgreementID == statsAgreement && s.Reason == policy.SkipRevoked
		}
		if i < 20 && !delivered || i >= 20 && !skipped {
			t.Fatalf("entry %d: deliveries %+v skips %+v; want delivered with content hash %s before the revocation, skipped as revoked after",
				i, e.Deliveries, e.Skips, info.ContentHash)
		}
	}
	if rep, err := ledger.Verify(ctx, a.Store(), ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep)
	}
}

// TestExpiresAtValidUntil: an active agreement whose valid_until passes
// moves to expired by itself, recorded as the exchange with its reason,
// with no record published; the plan then compiles it expired, and both
// parties get a notice.
func TestExpiresAtValidUntil(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	p := filepath.Join(dir, statsFile)
	text, _ := os.ReadFile(p)
	until := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	edited := strings.Replace(string(text), "valid_until: 2029-01-01T00:00:00Z", "valid_until: "+until.Format(time.RFC3339), 1)
	if edited == string(text) {
		t.Fatal("the example agreement's valid_until changed; adjust this test")
	}
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _, _ := seeded(ctx, t, dir)
	rec := httptest.NewRecorder()
	a.HTTP().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if !strings.Contains(rec.Body.String(), `{"name":"agreement_states","ok":true}`) {
		t.Errorf("/readyz: %d %s, want the agreement states check ok", rec.Code, rec.Body)
	}

	var last store.Transition
	waitFor(t, "the expiry to be recorded", time.Minute, func() bool {
		ts, err := a.Store().Transitions(ctx, statsAgreement)
		if err != nil || len(ts) == 0 {
			return false
		}
		last = ts[len(ts)-1]
		return last.To == agreements.StatusExpired
	})
	if last.From != agreements.StatusActive || last.By != ExpiryActor || last.Reason != ExpiryReason || last.At.Before(until) {
		t.Fatalf("expiry transition %+v, want active → expired by %s (%s) at or after %s", last, ExpiryActor, ExpiryReason, until)
	}
	waitFor(t, "the plan to compile the agreement expired", 30*time.Second, func() bool {
		info, ok := a.Plan().Agreement(statsAgreement)
		return ok && info.Status == agreements.StatusExpired
	})
	// Both parties are told, like of any transition.
	for _, agency := range []string{"health", "statistics"} {
		waitFor(t, "the expiry notice to "+agency, 30*time.Second, func() bool {
			ns, err := a.Store().Notices(ctx, sla.NoticeQuery{Agency: agency, Limit: sla.MaxNotices})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range ns {
				if n.Kind == sla.KindAgreementTransition && n.Agreement == statsAgreement && n.Reason == string(agreements.StatusExpired) {
					return true
				}
			}
			return false
		})
	}
}

// TestLineageShowsTermsDeliveredUnder: a record delivered before the
// agreement's purpose changed shows, in its lineage, the purpose it was
// delivered under; the changed terms (nobody approved them) deliver
// nothing.
func TestLineageShowsTermsDeliveredUnder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	lineageShowsTermsDeliveredUnder(t)
}

// TestLineageShowsTermsDeliveredUnderPostgres is the same on PostgreSQL
// (skipped without EXCHANGE_TEST_DATABASE_URL).
func TestLineageShowsTermsDeliveredUnderPostgres(t *testing.T) {
	super := os.Getenv(storetest.PostgresEnv)
	if super == "" || testing.Short() {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	url := storetest.CreateDatabase(t, super)
	lineageShowsTermsDeliveredUnder(t, func(c *Config) { c.DatabaseURL = url })
}

func lineageShowsTermsDeliveredUnder(t *testing.T, edits ...func(*Config)) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := copyExamples(t)
	a, broker, base := seeded(ctx, t, dir, edits...)
	pub := newImmunisations(ctx, t, a, broker)
	pub.publish(5)
	waitFor(t, "5 audited decisions", time.Minute, func() bool { return len(entries(ctx, t, a)) == 5 })
	var id string
	for _, d := range entries(ctx, t, a)[0].Deliveries {
		if d.AgreementID == statsAgreement {
			id = d.DeliveryID
		}
	}
	if id == "" {
		t.Fatal("the first record was not delivered to statistics")
	}

	p := filepath.Join(dir, statsFile)
	text, _ := os.ReadFile(p)
	const oldPurpose = "Quarterly official statistics on vaccine uptake"
	edited := strings.Replace(string(text), oldPurpose, "Monthly research extracts", 1)
	if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plan to compile the new terms as not approved", 30*time.Second, func() bool {
		info, ok := a.Plan().Agreement(statsAgreement)
		return ok && info.Status == agreements.StatusProposed
	})
	pub.publish(5)
	waitFor(t, "10 audited decisions", time.Minute, func() bool { return len(entries(ctx, t, a)) == 10 })
	for _, e := range entries(ctx, t, a)[5:] {
		for _, d := range e.Deliveries {
			if d.AgreementID == statsAgreement {
				t.Fatalf("delivered under terms nobody approved: %+v", e)
			}
		}
	}

	resp, err := apiGet(t, base, "/api/v1/lineage?delivery_id="+id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Deliveries []struct {
			Agreement string `json:"agreement"`
			Purpose   string `json:"purpose"`
		} `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != 200 {
		t.Fatalf("lineage: %d %v", resp.StatusCode, err)
	}
	found := false
	for _, d := range l.Deliveries {
		if d.Agreement == statsAgreement {
			found = true
			if !strings.HasPrefix(d.Purpose, oldPurpose) {
				t.Errorf("lineage purpose %q, want the purpose in force at delivery (%q…)", d.Purpose, oldPurpose)
			}
		}
	}
	if !found {
		t.Fatalf("lineage lacks the statistics delivery: %+v", l)
	}
}

// TestExpiryRace: two processes' expiry timers find the same agreement past
// its valid_until at once; exactly one expiry is recorded, the other sees
// a conflict and moves on, and a third scan records nothing more.
func TestExpiryRace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	text, err := os.ReadFile(filepath.Join("../../deploy/examples", statsFile))
	if err != nil {
		t.Fatal(err)
	}
	set, err := agreements.Load(statsFile, text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: statsAgreement, YAML: text, Author: "test"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := db.AddTransition(ctx, store.Transition{AgreementID: statsAgreement, To: agreements.StatusActive, By: "test", Reason: "test",
		ContentHash: set.Agreements[0].ContentHash(), ValidUntil: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	var xs []*expirer
	for range 2 {
		g, err := exchange.NewGate(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		xs = append(xs, &expirer{gate: g, expire: stewardship.New(db).Expire, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			now: func() time.Time { return now }, resync: time.Second})
	}
	var wg sync.WaitGroup
	for _, x := range xs {
		wg.Add(1)
		go func() { defer wg.Done(); x.expireDue(ctx) }()
	}
	wg.Wait()
	xs[0].expireDue(ctx)
	ts, err := db.Transitions(ctx, statsAgreement)
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, tr := range ts {
		if tr.To == agreements.StatusExpired {
			expired++
		}
	}
	if expired != 1 || ts[len(ts)-1].To != agreements.StatusExpired {
		t.Fatalf("transitions %+v, want exactly one expiry, last", ts)
	}
}
