package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

// RunAgreements runs the agreements-store conformance tests.
func RunAgreements(t *testing.T, h Harness) {
	t.Run("Versions", func(t *testing.T) { testDocVersions(t, h) })
	t.Run("Transitions", func(t *testing.T) { testTransitions(t, h) })
	t.Run("ConcurrentPut", func(t *testing.T) { testConcurrentPut(t, h) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, h) })
	t.Run("ConcurrentActs", func(t *testing.T) { testConcurrentActs(t, h) })
}

func testDocVersions(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	if _, err := b.Document(ctx, agreements.KindAgreement, "hlth-stat-01", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing document: err = %v, want ErrNotFound", err)
	}
	v1, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "hlth-stat-01", Status: agreements.StatusDraft, YAML: []byte("a: 1\n"), Author: "alice@health"})
	must(t, err, "put v1")
	if v1.Version != 1 || len(v1.Hash) != 32 || v1.Created.IsZero() {
		t.Fatalf("v1 = %+v", v1)
	}
	same, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "hlth-stat-01", YAML: []byte("a: 1\n"), Author: "bob"})
	must(t, err, "put same text")
	if same.Version != 1 || same.Author != "alice@health" {
		t.Fatalf("same text made a new version: %+v", same)
	}
	v2, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "hlth-stat-01", Status: agreements.StatusProposed, YAML: []byte("a: 2\n"), Author: "alice@health"})
	must(t, err, "put v2")
	if v2.Version != 2 {
		t.Fatalf("v2 = %+v", v2)
	}
	_, err = b.PutDocument(ctx, store.Document{Kind: agreements.KindDataContract, ID: "health.immunisations", YAML: []byte("c: 1\n")})
	must(t, err, "put contract")
	latest, err := b.Document(ctx, agreements.KindAgreement, "hlth-stat-01", 0)
	must(t, err, "latest")
	if latest.Version != 2 || string(latest.YAML) != "a: 2\n" || latest.Status != agreements.StatusProposed {
		t.Fatalf("latest = %+v", latest)
	}
	old, err := b.Document(ctx, agreements.KindAgreement, "hlth-stat-01", 1)
	must(t, err, "v1")
	if string(old.YAML) != "a: 1\n" || !old.Created.Equal(v1.Created) {
		t.Fatalf("v1 read back = %+v, stored %+v", old, v1)
	}
	all, err := b.DocumentVersions(ctx, agreements.KindAgreement, "hlth-stat-01")
	must(t, err, "versions")
	if len(all) != 2 || all[0].Version != 1 || all[1].Version != 2 {
		t.Fatalf("versions = %+v", all)
	}
	docs, err := b.Documents(ctx, "")
	must(t, err, "documents")
	if len(docs) != 2 || docs[0].Kind != agreements.KindAgreement || docs[0].Version != 2 || docs[1].Kind != agreements.KindDataContract {
		t.Fatalf("documents = %+v", docs)
	}
	docs, err = b.Documents(ctx, agreements.KindDataContract)
	must(t, err, "contracts")
	if len(docs) != 1 {
		t.Fatalf("contracts = %+v", docs)
	}
	if _, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "x", YAML: []byte("\x00")}); err == nil {
		t.Fatal("a NUL byte in YAML was stored")
	}
}

func testTransitions(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	if _, err := b.AddTransition(ctx, store.Transition{AgreementID: "nope", From: agreements.StatusDraft, To: agreements.StatusProposed, By: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("transition of a missing agreement: err = %v, want ErrNotFound", err)
	}
	_, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "a1", Status: agreements.StatusDraft, YAML: []byte("x")})
	must(t, err, "put")
	steps := []store.Transition{
		{AgreementID: "a1", From: "", To: agreements.StatusDraft, By: "file:a1.yaml", ContentHash: "h1"},
		{AgreementID: "a1", From: agreements.StatusDraft, To: agreements.StatusProposed, By: "alice@health", Reason: "ready for review"},
		{AgreementID: "a1", From: agreements.StatusProposed, To: agreements.StatusApproved, By: "carol@statistics"},
		{AgreementID: "a1", From: agreements.StatusApproved, To: agreements.StatusActive, By: "alice@health"},
	}
	for _, s := range steps {
		_, err := b.AddTransition(ctx, s)
		must(t, err, "transition to %s", s.To)
	}
	// An edge the lifecycle does not have is refused, whatever the current status.
	if _, err := b.AddTransition(ctx, store.Transition{AgreementID: "a1", From: agreements.StatusActive, To: agreements.StatusDraft, By: "mallory"}); !errors.Is(err, agreements.ErrTransition) {
		t.Fatalf("active → draft: err = %v, want agreements.ErrTransition", err)
	}
	// A steward acting on a stale view loses.
	if _, err := b.AddTransition(ctx, store.Transition{AgreementID: "a1", From: agreements.StatusApproved, To: agreements.StatusRevoked, By: "dave"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale transition: err = %v, want ErrConflict", err)
	}
	got, err := b.Transitions(ctx, "a1")
	must(t, err, "transitions")
	if len(got) != len(steps) {
		t.Fatalf("transitions = %+v", got)
	}
	for i, g := range got {
		if g.From != steps[i].From || g.To != steps[i].To || g.By != steps[i].By || g.Reason != steps[i].Reason || g.Version != 1 || g.At.IsZero() ||
			g.Seq != i+1 || g.ContentHash != "h1" {
			t.Fatalf("transition %d = %+v, want %+v", i, g, steps[i])
		}
	}
}

func testConcurrentPut(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := b.PutDocument(ctx, store.Document{Kind: agreements.KindDataContract, ID: "c", YAML: []byte{byte('a' + i)}})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "concurrent put")
	}
	vs, err := b.DocumentVersions(ctx, agreements.KindDataContract, "c")
	must(t, err, "versions")
	if len(vs) != 8 || vs[7].Version != 8 {
		t.Fatalf("%d versions, want 1..8", len(vs))
	}
}
