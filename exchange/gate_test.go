package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
)

// memStates is an in-test store.LifecycleReader: states a test edits, or a
// read error.
type memStates struct {
	mu     sync.Mutex
	states map[string]store.AgreementState
	err    error
}

func (m *memStates) AgreementStates(context.Context) ([]store.AgreementState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	out := make([]store.AgreementState, 0, len(m.states))
	for _, s := range m.states {
		out = append(out, s)
	}
	return out, nil
}

func (m *memStates) set(s store.AgreementState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[s.ID] = s
}

func (m *memStates) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// activeStates is every agreement of plan active for its compiled terms.
func activeStates(plan *policy.Plan, ids ...string) *memStates {
	m := &memStates{states: map[string]store.AgreementState{}}
	for _, id := range ids {
		info, _ := plan.Agreement(id)
		m.states[id] = store.AgreementState{ID: id, Status: agreements.StatusActive, ContentHash: info.ContentHash, Version: 1}
	}
	return m
}

// TestGateSkipReasons: each stored state that must not deliver gives its
// own skip reason; only active-for-these-terms-before-valid_until delivers.
func TestGateSkipReasons(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	const hash = "terms-hash"
	st := func(s agreements.Status, h string, until time.Time) store.AgreementState {
		return store.AgreementState{ID: "a", Status: s, ContentHash: h, ValidUntil: until}
	}
	cases := []struct {
		name  string
		state *store.AgreementState
		want  string
	}{
		{"active for these terms", &store.AgreementState{ID: "a", Status: agreements.StatusActive, ContentHash: hash}, ""},
		{"active until later", ptr(st(agreements.StatusActive, hash, now.Add(time.Second))), ""},
		{"no state recorded", nil, policy.SkipNotRecorded},
		{"revoked", ptr(st(agreements.StatusRevoked, hash, time.Time{})), policy.SkipRevoked},
		{"suspended", ptr(st(agreements.StatusSuspended, hash, time.Time{})), policy.SkipSuspended},
		{"expired", ptr(st(agreements.StatusExpired, hash, time.Time{})), policy.SkipExpired},
		{"approved, not activated", ptr(st(agreements.StatusApproved, hash, time.Time{})), policy.SkipNotActive},
		{"proposed", ptr(st(agreements.StatusProposed, hash, time.Time{})), policy.SkipNotActive},
		{"active for other terms", ptr(st(agreements.StatusActive, "other-hash", time.Time{})), policy.SkipNotApproved},
		{"active at valid_until", ptr(st(agreements.StatusActive, hash, now)), policy.SkipExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := &gateSnapshot{states: map[string]store.AgreementState{}, readAt: now}
			if c.state != nil {
				snap.states["a"] = *c.state
			}
			d := policy.Decision{Outcomes: []policy.Outcome{{AgreementID: "a", ContentHash: hash, Delivered: true}}}
			snap.apply(&d, now)
			o := d.Outcomes[0]
			if o.Skip != c.want || o.Delivered != (c.want == "") {
				t.Errorf("delivered %t skip %q, want skip %q", o.Delivered, o.Skip, c.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestGateFailsClosed: once the states are older than the bound (the store
// cannot be read), the gate is not ready, says why, and WaitOpen does not
// hand out a snapshot; a successful read opens it again.
func TestGateFailsClosed(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	states := &memStates{states: map[string]store.AgreementState{}}
	g, err := NewGate(states, WithGateClock(clock), WithGatePoll(100*time.Millisecond), WithGateMaxAge(time.Second), WithGateLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.Ready(ctx); err == nil {
		t.Fatal("gate ready before any read")
	}
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Ready(ctx); err != nil {
		t.Fatalf("gate not ready after a read: %v", err)
	}
	states.fail(errors.New("connection refused"))
	if err := g.Refresh(ctx); err == nil {
		t.Fatal("Refresh hid the read error")
	}
	advance(500 * time.Millisecond)
	if err := g.Ready(ctx); err != nil {
		t.Fatalf("gate closed within the bound: %v", err)
	}
	advance(600 * time.Millisecond)
	err = g.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("Ready past the bound = %v, want a closed gate naming the read error", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if snap, err := g.WaitOpen(wctx, clock); snap != nil || err == nil {
		t.Fatalf("WaitOpen on a closed gate = %v, %v; want no snapshot until ctx ends", snap, err)
	}
	states.fail(nil)
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if snap, err := g.WaitOpen(ctx, clock); snap == nil || err != nil {
		t.Fatalf("WaitOpen after a good read = %v, %v", snap, err)
	}
}

// TestGateOutageGrace: while the store is unreachable (ErrUnavailable) the
// states last read stay in force past MaxAge, up to the grace, and Ready
// says so; past the grace the gate closes; any other read error closes it
// after MaxAge as without a grace.
func TestGateOutageGrace(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	states := &memStates{states: map[string]store.AgreementState{}}
	g, err := NewGate(states, WithGateClock(clock), WithGatePoll(100*time.Millisecond), WithGateMaxAge(time.Second),
		WithGateOutageGrace(time.Minute), WithGateLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	states.fail(fmt.Errorf("postgres: %w: connection refused", ledger.ErrUnavailable))
	_ = g.Refresh(ctx)
	advance(30 * time.Second)
	if g.current(clock()) == nil {
		t.Fatal("gate closed 30 s into a database outage with a 1 min grace")
	}
	if err := g.Ready(ctx); err == nil || !strings.Contains(err.Error(), "outage grace") {
		t.Errorf("Ready inside the grace = %v, want a degraded report naming the outage grace", err)
	}
	advance(31 * time.Second)
	if g.current(clock()) != nil {
		t.Fatal("gate open past the outage grace")
	}

	states.fail(nil)
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	states.fail(errors.New("permission denied for table agreement_transitions"))
	_ = g.Refresh(ctx)
	advance(1100 * time.Millisecond)
	if g.current(clock()) != nil {
		t.Fatal("gate open past MaxAge on an error that is not an outage")
	}
}

// TestGateRevocationWithoutReload: a revocation stored in the lifecycle
// state stops deliveries under the very plan that still compiles the
// agreement as active (no reload at all); the ledger records each record
// skipped as revoked; the other agreement keeps receiving.
func TestGateRevocationWithoutReload(t *testing.T) {
	m := newMechanics(t, 2)
	states := activeStates(m.plan, m.agreements[0].id, m.agreements[1].id)
	g, err := NewGate(states, WithGateLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = g.Run(ctx) }()
	w := m.worker(t, nil, nil, WithGate(g))
	stop := runWorker(t, w)
	m.k.publish(t, m.records(20, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)

	revoked := states.states[m.agreements[0].id]
	revoked.Status = agreements.StatusRevoked
	states.set(revoked)
	// The poller publishes it within a poll; Refresh makes the instant
	// certain without waiting on time.
	if err := g.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m.k.publish(t, m.records(20, 20)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(m.k.readAll(t, m.topicA)); n != 20 {
		t.Errorf("revoked agreement received %d records, want the 20 from before the revocation", n)
	}
	if n := len(m.k.readAll(t, m.topicB)); n != 40 {
		t.Errorf("other agreement received %d records, want 40", n)
	}
	skipped := 0
	for _, e := range m.ledger.all(t) {
		if e.PlanVersion != m.plan.Version() {
			t.Fatalf("entry under plan %s: the plan was never reloaded", e.PlanVersion)
		}
		if len(e.Skips) == 1 && e.Skips[0].AgreementID == m.agreements[0].id && e.Skips[0].Reason == policy.SkipRevoked {
			skipped++
		}
	}
	if skipped != 20 {
		t.Errorf("%d ledger entries record the revocation skip, want 20", skipped)
	}
}
