package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

// testLifecycle: Act records approvals and transitions with their content
// hash, Lifecycle and AgreementStates read them back, a refused decision
// records nothing, and a terms change reopens the proposal in a new round.
func testLifecycle(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	if _, err := b.Lifecycle(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("lifecycle of a missing agreement: err = %v, want ErrNotFound", err)
	}
	states, err := b.AgreementStates(ctx)
	must(t, err, "states of an empty store")
	if len(states) != 0 {
		t.Fatalf("states of an empty store = %+v", states)
	}
	for _, id := range []string{"a1", "a2"} {
		_, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: id, YAML: []byte(id)})
		must(t, err, "put %s", id)
	}
	until := baseTime.Add(90 * 24 * time.Hour)
	do := func(id string, c store.LifecycleChange) (store.Lifecycle, error) {
		return b.Act(ctx, id, func(store.Lifecycle) (store.LifecycleChange, error) { return c, nil })
	}
	_, err = do("a1", store.LifecycleChange{Transitions: []store.Transition{{To: agreements.StatusProposed, By: "alice", ContentHash: "h1", ValidUntil: until}}})
	must(t, err, "record a1 proposed")
	_, err = do("a1", store.LifecycleChange{Approvals: []store.Approval{{Agency: "health", Steward: "alice", ContentHash: "h1"}}})
	must(t, err, "alice approves")
	if _, err := do("a1", store.LifecycleChange{Approvals: []store.Approval{{Agency: "health", Steward: "alice", ContentHash: "h1"}}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("alice approving the same round twice: err = %v, want ErrConflict", err)
	}
	refused := errors.New("refused by the rules")
	if _, err := b.Act(ctx, "a1", func(store.Lifecycle) (store.LifecycleChange, error) { return store.LifecycleChange{}, refused }); !errors.Is(err, refused) {
		t.Fatalf("decide's error: got %v", err)
	}
	l, err := do("a1", store.LifecycleChange{
		Approvals: []store.Approval{{Agency: "tax", Steward: "tom", ContentHash: "h1"}},
		Transitions: []store.Transition{
			{From: agreements.StatusProposed, To: agreements.StatusApproved, By: "tom"},
			{From: agreements.StatusApproved, To: agreements.StatusActive, By: "tom", Reason: "within validity"},
		},
	})
	must(t, err, "tom approves and activates")
	if st := l.State(); st.Status != agreements.StatusActive || st.ContentHash != "h1" || !st.ValidUntil.Equal(until) || st.Version != 1 || l.Seq() != 3 {
		t.Fatalf("state after activation = %+v (seq %d)", st, l.Seq())
	}
	if len(l.Approvals) != 2 || l.Approvals[0].Round != 1 || l.Approvals[1].Round != 1 || l.Approvals[1].Steward != "tom" {
		t.Fatalf("approvals = %+v", l.Approvals)
	}
	// The terms change: a new hash, back to proposed, a new round.
	_, err = do("a1", store.LifecycleChange{Transitions: []store.Transition{{From: agreements.StatusActive, To: agreements.StatusProposed, By: "file:a1.yaml", ContentHash: "h2"}}})
	must(t, err, "terms change")
	_, err = do("a1", store.LifecycleChange{Approvals: []store.Approval{{Agency: "health", Steward: "alice", ContentHash: "h2"}}})
	must(t, err, "alice approves the new round")
	_, err = do("a2", store.LifecycleChange{Transitions: []store.Transition{{To: agreements.StatusRevoked, By: "file:a2.yaml", ContentHash: "x"}}})
	must(t, err, "seed a2 revoked")
	if _, err := do("a2", store.LifecycleChange{Transitions: []store.Transition{{From: agreements.StatusRevoked, To: agreements.StatusActive, By: "mallory"}}}); !errors.Is(err, agreements.ErrTransition) {
		t.Fatalf("revoked → active: err = %v, want ErrTransition", err)
	}
	if _, err := do("a2", store.LifecycleChange{Transitions: []store.Transition{{From: agreements.StatusRevoked, To: agreements.StatusProposed, By: "file:a2.yaml", ContentHash: "y"}}}); !errors.Is(err, agreements.ErrTransition) {
		t.Fatalf("terms change of a revoked agreement: err = %v, want ErrTransition", err)
	}

	l, err = b.Lifecycle(ctx, "a1")
	must(t, err, "lifecycle a1")
	if len(l.Approvals) != 3 || l.Approvals[2].Round != 4 || l.Approvals[2].ContentHash != "h2" || l.Seq() != 4 {
		t.Fatalf("a1 lifecycle read back = %+v", l)
	}
	states, err = b.AgreementStates(ctx)
	must(t, err, "states")
	if len(states) != 2 || states[0].ID != "a1" || states[0].Status != agreements.StatusProposed || states[0].ContentHash != "h2" || !states[0].ValidUntil.IsZero() ||
		states[1].ID != "a2" || states[1].Status != agreements.StatusRevoked || states[1].Changed.IsZero() {
		t.Fatalf("states = %+v", states)
	}
}

// testConcurrentActs: actions on one agreement are serialised, so two
// stewards deciding from the same view cannot both move it.
func testConcurrentActs(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	_, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "c1", YAML: []byte("c1")})
	must(t, err, "put")
	_, err = b.AddTransition(ctx, store.Transition{AgreementID: "c1", To: agreements.StatusActive, By: "seed", ContentHash: "h"})
	must(t, err, "seed active")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each decides from what it reads inside the action: exactly
			// one finds the agreement active.
			_, err := b.Act(ctx, "c1", func(l store.Lifecycle) (store.LifecycleChange, error) {
				if l.State().Status != agreements.StatusActive {
					return store.LifecycleChange{}, store.ErrConflict
				}
				return store.LifecycleChange{Transitions: []store.Transition{{From: agreements.StatusActive, To: agreements.StatusSuspended, By: "s", Reason: "r"}}}, nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("concurrent act: %v", err)
		}
	}
	ts, err := b.Transitions(ctx, "c1")
	must(t, err, "transitions")
	if ok != 1 || len(ts) != 2 {
		t.Fatalf("%d actions succeeded, %d transitions; want 1 and 2", ok, len(ts))
	}
}
