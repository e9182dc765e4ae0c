package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RunAccessRequests checks access requests are stored as filed, listed
// per agency (as consumer or provider) newest first, and decided once:
// a second decision, even a concurrent one, is ErrConflict, and one
// agreement id cannot be claimed by two requests.
func RunAccessRequests(t *testing.T, h Harness) {
	b := h.Open(t, store.WithClock(func() time.Time { return baseTime }))
	ctx := testCtx(t)
	in := store.AccessRequest{
		Dataset: "civil-registry.births", Provider: "civil-registry", Consumer: "tax", RequestedBy: "helena.marsh",
		Purpose: "child tax credit", LegalBasis: "Income Tax Act 2009, s.58A", Fields: []string{"child_id", "birth_date"},
		ValidUntil: baseTime.Add(365 * 24 * time.Hour), Reason: "Finance Act 2026",
	}
	r1, err := b.AddAccessRequest(ctx, in)
	must(t, err, "adding a request")
	if r1.ID == 0 || r1.Status != store.AccessPending || !r1.Requested.Equal(baseTime) {
		t.Fatalf("stored request: %+v", r1)
	}
	in2 := in
	in2.Dataset, in2.Provider, in2.Consumer, in2.RequestedBy = "health.immunisations", "health", "statistics", "wei.zhang"
	r2, err := b.AddAccessRequest(ctx, in2)
	must(t, err, "adding a second request")

	got, err := b.AccessRequest(ctx, r1.ID)
	must(t, err, "reading a request")
	if got.Purpose != in.Purpose || got.LegalBasis != in.LegalBasis || !slices.Equal(got.Fields, in.Fields) ||
		!got.ValidUntil.Equal(in.ValidUntil) || got.Reason != in.Reason || got.ID != r1.ID {
		t.Fatalf("read back %+v\nfiled %+v", got, in)
	}
	if _, err := b.AccessRequest(ctx, r2.ID+100); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown request: %v, want ErrNotFound", err)
	}
	checkAccessLists(t, b, r1, r2)

	dec, err := b.DecideAccessRequest(ctx, store.AccessDecision{ID: r1.ID, Accept: true, By: "marco.bianchi", Reason: "lawful", Agreement: "civil-registry-to-tax-2026-007"})
	must(t, err, "accepting")
	if dec.Status != store.AccessAccepted || dec.Agreement != "civil-registry-to-tax-2026-007" || dec.DecidedBy != "marco.bianchi" || !dec.Decided.Equal(baseTime) {
		t.Fatalf("accepted request: %+v", dec)
	}
	if got, err := b.AccessRequest(ctx, r1.ID); err != nil || got.Status != store.AccessAccepted || got.DecisionReason != "lawful" {
		t.Fatalf("accepted request read back: %+v, %v", got, err)
	}
	if _, err := b.DecideAccessRequest(ctx, store.AccessDecision{ID: r1.ID, By: "marco.bianchi"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("deciding twice: %v, want ErrConflict", err)
	}
	if _, err := b.DecideAccessRequest(ctx, store.AccessDecision{ID: r2.ID, Accept: true, By: "amara.okafor", Agreement: "civil-registry-to-tax-2026-007"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second request claiming the same agreement id: %v, want ErrConflict", err)
	}
	if got, err := b.AccessRequest(ctx, r2.ID); err != nil || got.Status != store.AccessPending {
		t.Fatalf("the request whose claim failed: %+v, %v (want still pending)", got, err)
	}
	checkConcurrentDecisions(t, b, r2.ID)
}

// checkAccessLists: an agency sees the requests it is a party to, newest
// first; "" sees all.
func checkAccessLists(t *testing.T, b store.Backend, r1, r2 store.AccessRequest) {
	t.Helper()
	ctx := testCtx(t)
	ids := func(q store.AccessRequestQuery) []int64 {
		rs, err := b.AccessRequests(ctx, q)
		must(t, err, "listing requests")
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		agency string
		want   []int64
	}{
		{"", []int64{r2.ID, r1.ID}},
		{"tax", []int64{r1.ID}},
		{"civil-registry", []int64{r1.ID}},
		{"health", []int64{r2.ID}},
		{"social-services", nil},
	} {
		if got := ids(store.AccessRequestQuery{Agency: c.agency}); !slices.Equal(got, c.want) {
			t.Errorf("requests of %q: %v, want %v", c.agency, got, c.want)
		}
	}
	if got := ids(store.AccessRequestQuery{Limit: 1}); !slices.Equal(got, []int64{r2.ID}) {
		t.Errorf("limit 1: %v", got)
	}
}

// checkConcurrentDecisions: of several concurrent decisions, exactly one
// wins.
func checkConcurrentDecisions(t *testing.T, b store.Backend, id int64) {
	t.Helper()
	ctx := testCtx(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.DecideAccessRequest(ctx, store.AccessDecision{ID: id, By: "amara.okafor", Accept: false})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("a concurrent decision: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent decisions won, want 1", won, n)
	}
}
