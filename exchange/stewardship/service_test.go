package stewardship_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/timeliness"
)

const examples = "../../deploy/examples"

// now is inside the validity of every example agreement.
var now = time.Date(2027, 6, 1, 12, 0, 0, 0, time.UTC)

// The example stewards (deploy/examples/agencies.yaml).
var (
	amara  = stewardship.Actor{Name: "amara.okafor", Agency: "health", Steward: true}
	jonas  = stewardship.Actor{Name: "jonas.lindqvist", Agency: "health", Steward: true}
	wei    = stewardship.Actor{Name: "wei.zhang", Agency: "statistics", Steward: true}
	helena = stewardship.Actor{Name: "helena.marsh", Agency: "tax", Steward: true}
)

// fixture is a service over a fresh store of one backend, with the
// example policy in force and a real notifier storing notices.
type fixture struct {
	t   *testing.T
	ctx context.Context
	db  store.Backend
	svc *stewardship.Service
	set *agreements.Set
}

// backends runs fn on SQLite and, with EXCHANGE_TEST_DATABASE_URL, on
// PostgreSQL.
func backends(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newFixture(t, "sqlite://"+filepath.Join(t.TempDir(), "exchange.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newFixture(t, storetest.CreateDatabase(t, storetest.PostgresURL(t))))
	})
}

func newFixture(t *testing.T, url string) *fixture {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	set, err := agreements.LoadDir(examples)
	if err != nil {
		t.Fatalf("loading examples: %v", err)
	}
	f := &fixture{t: t, ctx: ctx, db: db, set: set}
	f.svc = f.restart()
	return f
}

// restart is a new service over the same store, as after a process restart.
func (f *fixture) restart() *stewardship.Service {
	svc := stewardship.New(f.db, stewardship.WithClock(func() time.Time { return now }),
		stewardship.WithNotifier(timeliness.NewNotifier(f.db, nil, nil, nil)))
	svc.SetPolicy(f.set)
	return svc
}

// sync records the agreement id from the file text as the plan builder does.
func (f *fixture) sync(file, text string, seed bool) {
	f.t.Helper()
	set, err := agreements.Load(file, []byte(text))
	if err != nil {
		f.t.Fatalf("loading %s: %v", file, err)
	}
	if _, err := f.svc.SyncFile(f.ctx, file, []byte(text), &set.Agreements[0], seed); err != nil {
		f.t.Fatalf("syncing %s: %v", file, err)
	}
}

func exampleText(t *testing.T, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examples, "agreement-"+id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) get(id string) stewardship.View {
	f.t.Helper()
	v, err := f.svc.Get(f.ctx, stewardship.Actor{Name: "auditor", ReadsAll: true}, id)
	if err != nil {
		f.t.Fatalf("get %s: %v", id, err)
	}
	return v
}

func (f *fixture) wantStatus(id string, want agreements.Status) stewardship.View {
	f.t.Helper()
	v := f.get(id)
	if v.Status != string(want) {
		f.t.Fatalf("agreement %s is %s, want %s (history %+v)", id, v.Status, want, v.History)
	}
	states, err := f.db.AgreementStates(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range states {
		if s.ID == id && (s.Status != want || s.ContentHash != v.ContentHash) {
			f.t.Fatalf("AgreementStates has %s %s/%s, view %s/%s", id, s.Status, s.ContentHash, want, v.ContentHash)
		}
	}
	return v
}

const hs = "health-to-statistics-2026-002"

// proposed syncs the health → statistics example without seeding: it is
// recorded as proposed whatever its file says.
func (f *fixture) proposed() stewardship.View {
	f.sync("agreement-"+hs+".yaml", exampleText(f.t, hs), false)
	return f.wantStatus(hs, agreements.StatusProposed)
}

// TestApprovalNeedsBothParties: one steward approving twice, or two
// stewards of the same agency, do not approve; a provider and a consumer
// steward on the same content hash do, and the agreement goes active (in
// validity) in the same action; every transition names its principal.
func TestApprovalNeedsBothParties(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v := f.proposed()
		_, err := f.svc.Approve(f.ctx, amara, hs, v.ContentHash)
		must(t, err, "amara approves")
		if _, err := f.svc.Approve(f.ctx, amara, hs, v.ContentHash); !stewardship.IsConflict(err) {
			t.Fatalf("amara approving twice: %v, want a conflict", err)
		}
		_, err = f.svc.Approve(f.ctx, jonas, hs, v.ContentHash)
		must(t, err, "jonas (health too) approves")
		v = f.wantStatus(hs, agreements.StatusProposed)
		if len(v.Approvals) != 2 {
			t.Fatalf("approvals = %+v, want amara's and jonas's", v.Approvals)
		}
		if _, err := f.svc.Approve(f.ctx, wei, hs, strings.Repeat("0", 64)); !stewardship.IsConflict(err) {
			t.Fatalf("approval of other terms: %v, want a conflict", err)
		}
		f.wantStatus(hs, agreements.StatusProposed)
		_, err = f.svc.Approve(f.ctx, wei, hs, v.ContentHash)
		must(t, err, "wei approves")
		v = f.wantStatus(hs, agreements.StatusActive)
		ts, err := f.db.Transitions(f.ctx, hs)
		must(t, err, "transitions")
		want := []struct{ to, by string }{{"proposed", "file:agreement-" + hs + ".yaml"}, {"approved", "wei.zhang@statistics"}, {"active", "wei.zhang@statistics"}}
		if len(ts) != len(want) {
			t.Fatalf("transitions = %+v", ts)
		}
		for i, w := range want {
			if string(ts[i].To) != w.to || ts[i].By != w.by || ts[i].ContentHash != v.ContentHash || ts[i].At.IsZero() {
				t.Fatalf("transition %d = %+v, want to %s by %s on %s", i, ts[i], w.to, w.by, v.ContentHash)
			}
		}
	})
}

// TestConcurrentApprovals: the provider and the consumer approving at the
// same time approve the agreement exactly once.
func TestConcurrentApprovals(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v := f.proposed()
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, a := range []stewardship.Actor{amara, wei} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.Approve(f.ctx, a, hs, v.ContentHash)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err, "concurrent approval")
		}
		v = f.wantStatus(hs, agreements.StatusActive)
		if len(v.History) != 3 || len(v.Approvals) != 2 {
			t.Fatalf("history %+v, approvals %+v; want proposed, approved, active and two approvals", v.History, v.Approvals)
		}
	})
}

// TestTermsChangeClearsApprovals: a file changing the terms of an active
// agreement moves it back to proposed with no approvals; the old
// approvals do not count, even when the old terms come back.
func TestTermsChangeClearsApprovals(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v1 := f.proposed()
		approve(t, f, v1.ContentHash, amara, wei)
		f.wantStatus(hs, agreements.StatusActive)
		file := "agreement-" + hs + ".yaml"
		text := exampleText(t, hs)
		changed := strings.Replace(text, "purpose: >", "purpose: >\n  Also for research.", 1)
		f.sync(file, changed, false)
		v2 := f.wantStatus(hs, agreements.StatusProposed)
		if v2.ContentHash == v1.ContentHash || len(v2.Approvals) != 0 || !strings.Contains(v2.Purpose, "research") {
			t.Fatalf("after the terms change: %+v", v2)
		}
		if last := v2.History[len(v2.History)-1]; last.By != "file:"+file || last.From != "active" {
			t.Fatalf("terms change recorded as %+v", last)
		}
		// The old file again: old terms, but a new round.
		f.sync(file, text, false)
		v3 := f.wantStatus(hs, agreements.StatusProposed)
		if v3.ContentHash != v1.ContentHash || len(v3.Approvals) != 0 {
			t.Fatalf("old terms back: %+v, want v1's hash and no approvals", v3)
		}
		approve(t, f, v3.ContentHash, amara)
		f.wantStatus(hs, agreements.StatusProposed)
		// An unchanged file changes nothing at the next sync.
		f.sync(file, text, false)
		if v := f.get(hs); len(v.History) != len(v3.History) || len(v.Approvals) != 1 {
			t.Fatalf("a resync of the same file changed the lifecycle: %+v", v)
		}
	})
}

// TestThirdAgencyForbidden: a steward of neither party, a name not listed
// under its agency's stewards, and an operator cannot approve, suspend or
// revoke.
func TestThirdAgencyForbidden(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v := f.proposed()
		impostor := stewardship.Actor{Name: "mallory", Agency: "health", Steward: true}
		operator := stewardship.Actor{Name: "ops", ReadsAll: true}
		for _, a := range []stewardship.Actor{helena, impostor, operator} {
			if _, err := f.svc.Approve(f.ctx, a, hs, v.ContentHash); !errors.Is(err, stewardship.ErrForbidden) {
				t.Errorf("%+v approving: %v, want ErrForbidden", a, err)
			}
		}
		approve(t, f, v.ContentHash, amara, wei)
		for _, a := range []stewardship.Actor{helena, impostor, operator} {
			for _, to := range []agreements.Status{agreements.StatusSuspended, agreements.StatusRevoked} {
				if _, err := f.svc.Transition(f.ctx, a, hs, to, "because"); !errors.Is(err, stewardship.ErrForbidden) {
					t.Errorf("%+v → %s: %v, want ErrForbidden", a, to, err)
				}
			}
		}
		if _, err := f.svc.Get(f.ctx, helena, hs); !errors.Is(err, stewardship.ErrForbidden) {
			t.Errorf("tax reading health → statistics: %v, want ErrForbidden", err)
		}
		list, err := f.svc.List(f.ctx, helena)
		must(t, err, "list as helena")
		if len(list) != 0 {
			t.Errorf("helena lists %+v", list)
		}
		f.wantStatus(hs, agreements.StatusActive)
	})
}

// TestRevokedIsFinal: after a revocation, restoring the old file, a
// restart with seeding on, a POST to active and a new proposal of the
// same id all leave it revoked.
func TestRevokedIsFinal(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v := f.proposed()
		approve(t, f, v.ContentHash, amara, wei)
		_, err := f.svc.Transition(f.ctx, wei, hs, agreements.StatusSuspended, "audit finding")
		must(t, err, "suspend")
		_, err = f.svc.Transition(f.ctx, amara, hs, agreements.StatusActive, "")
		must(t, err, "resume")
		if _, err := f.svc.Transition(f.ctx, amara, hs, agreements.StatusRevoked, ""); !errors.Is(err, stewardship.ErrInvalid) {
			t.Fatalf("revoke without a reason: %v, want ErrInvalid", err)
		}
		_, err = f.svc.Transition(f.ctx, amara, hs, agreements.StatusRevoked, "consent withdrawn")
		must(t, err, "revoke")
		file, text := "agreement-"+hs+".yaml", exampleText(t, hs)
		f.sync(file, strings.Replace(text, "purpose: >", "purpose: >\n  v2.", 1), false)
		f.svc = f.restart()
		f.sync(file, text, true)
		if _, err := f.svc.Transition(f.ctx, amara, hs, agreements.StatusActive, ""); !stewardship.IsConflict(err) {
			t.Fatalf("revoked → active: %v, want a conflict", err)
		}
		body := strings.Replace(strings.Split(text, "\nstatus:")[0], "purpose: >", "purpose: >\n  again.", 1)
		if _, err := f.svc.Propose(f.ctx, amara, []byte(body)); !stewardship.IsConflict(err) {
			t.Fatalf("proposing a revoked id: %v, want a conflict", err)
		}
		v = f.wantStatus(hs, agreements.StatusRevoked)
		last := v.History[len(v.History)-1]
		if last.By != "amara.okafor@health" || last.Reason != "consent withdrawn" {
			t.Fatalf("last transition %+v", last)
		}
	})
}

// TestFileEditAttack: a new agreement file declaring status active,
// approvals and history is recorded as proposed with no approvals when
// seeding is off; with seeding (dev mode) it is taken as the file says.
func TestFileEditAttack(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		text := strings.Replace(exampleText(t, "civil-registry-to-tax-2026-006"), "status: proposed", "status: active", 1)
		text = strings.Replace(text, "approvals:\n", "approvals:\n  - {agency: tax, steward: helena.marsh, at: 2026-11-03T09:00:00Z}\n", 1)
		text = strings.Replace(text, "history:\n", "history:\n  - {from: proposed, to: approved, by: anyone-at-all, at: 2026-11-03T09:00:00Z}\n  - {from: approved, to: active, by: anyone-at-all, at: 2026-11-03T09:00:00Z}\n", 1)
		id := "civil-registry-to-tax-2026-006"
		f.sync("agreement-"+id+".yaml", text, false)
		v := f.wantStatus(id, agreements.StatusProposed)
		if len(v.Approvals) != 0 || len(v.History) != 1 || !strings.Contains(v.History[0].Reason, "not proof") {
			t.Fatalf("attack recorded as %+v", v)
		}
		seeded := "seeded-" + id
		f.sync("seeded.yaml", strings.Replace(text, "id: "+id, "id: "+seeded, 1), true)
		v = f.wantStatus(seeded, agreements.StatusActive)
		if len(v.Approvals) != 2 || v.History[0].Reason != "seeded from file" {
			t.Fatalf("seeded = %+v", v)
		}
	})
}

// TestProposeAndNotices: a consumer steward proposes new terms; the
// provider and consumer approve; each transition sent a notice to both
// parties (stored for GET /api/v1/notices). Lifecycle keys and invalid
// terms are refused.
func TestProposeAndNotices(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		body := `kind: Agreement
id: health-to-statistics-2027-009
provider: health.immunisations
consumer: statistics
purpose: Coverage statistics by region.
legal_basis: Statistics Act 2001, s.12
valid_from: 2027-01-01T00:00:00Z
valid_until: 2028-01-01T00:00:00Z
fields:
  vaccine: keep
`
		if _, err := f.svc.Propose(f.ctx, wei, []byte(body+"status: active\n")); !errors.Is(err, stewardship.ErrInvalid) {
			t.Fatalf("proposal with a status: %v, want ErrInvalid", err)
		}
		if _, err := f.svc.Propose(f.ctx, wei, []byte(body+"  no_such_field: keep\n")); !errors.Is(err, stewardship.ErrInvalid) {
			t.Fatalf("proposal of an unknown field: %v, want ErrInvalid", err)
		}
		if _, err := f.svc.Propose(f.ctx, helena, []byte(body)); !errors.Is(err, stewardship.ErrForbidden) {
			t.Fatalf("proposal by a third agency: %v, want ErrForbidden", err)
		}
		v, err := f.svc.Propose(f.ctx, wei, []byte(body))
		must(t, err, "wei proposes")
		if v.Status != "proposed" || v.History[0].By != "wei.zhang@statistics" {
			t.Fatalf("proposal = %+v", v)
		}
		approve(t, f, v.ContentHash, wei, amara)
		f.wantStatus(v.ID, agreements.StatusActive)
		for _, agency := range []string{"health", "statistics"} {
			ns, err := f.db.Notices(f.ctx, sla.NoticeQuery{Agency: agency})
			must(t, err, "notices")
			var got []string
			for _, n := range ns {
				if n.Kind == sla.KindAgreementTransition && n.Agreement == v.ID {
					got = append(got, n.Reason)
				}
			}
			if strings.Join(got, ",") != "proposed,approved,active" {
				t.Errorf("%s was told %v, want proposed, approved, active", agency, got)
			}
		}
	})
}

func approve(t *testing.T, f *fixture, hash string, actors ...stewardship.Actor) {
	t.Helper()
	for _, a := range actors {
		if _, err := f.svc.Approve(f.ctx, a, idOf(f, hash), hash); err != nil {
			t.Fatalf("%s approves: %v", a.Name, err)
		}
	}
}

// idOf is the agreement whose current terms have hash.
func idOf(f *fixture, hash string) string {
	list, err := f.svc.List(f.ctx, stewardship.Actor{ReadsAll: true})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, v := range list {
		if v.ContentHash == hash {
			return v.ID
		}
	}
	f.t.Fatalf("no agreement with content hash %s", hash)
	return ""
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestExpiryAndTerms: a transition recorded through the service's
// AddTransition (the runtime's expiry) reaches both parties' notices with
// the terms' hash carried over; Terms gives the recorded terms of an
// agreement proposed through the API with the store's status.
func TestExpiryAndTerms(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		v := f.proposed()
		approve(t, f, v.ContentHash, amara, wei)
		got, err := f.svc.AddTransition(f.ctx, store.Transition{AgreementID: hs, From: agreements.StatusActive, To: agreements.StatusExpired, By: "exchange", Reason: "valid_until reached"})
		must(t, err, "expire")
		if got.ContentHash != v.ContentHash {
			t.Fatalf("expiry recorded on %q, want the terms' %s", got.ContentHash, v.ContentHash)
		}
		f.wantStatus(hs, agreements.StatusExpired)
		for _, agency := range []string{"health", "statistics"} {
			ns, err := f.db.Notices(f.ctx, sla.NoticeQuery{Agency: agency})
			must(t, err, "notices")
			if n := ns[len(ns)-1]; n.Agreement != hs || n.Reason != "expired" || !strings.Contains(n.Detail, "valid_until reached") {
				t.Errorf("%s's last notice = %+v, want the expiry", agency, n)
			}
		}
		terms, err := f.svc.Terms(f.ctx)
		must(t, err, "terms")
		if a := terms[hs]; a == nil || a.Status != agreements.StatusExpired || a.ContentHash() != v.ContentHash || len(a.Approvals) != 2 {
			t.Fatalf("terms of %s = %+v", hs, a)
		}
	})
}
