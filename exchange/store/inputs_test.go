package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// TestInputChecks: the checks both backends run before they touch SQL.
func TestInputChecks(t *testing.T) {
	if _, err := store.PrepareDocument(store.Document{Kind: agreements.KindAgreement}); err == nil || !strings.Contains(err.Error(), "kind and id are required") {
		t.Errorf("document without id: %v", err)
	}
	if _, err := store.PrepareDocument(store.Document{Kind: agreements.KindAgreement, ID: "a", Author: "x\x00"}); err == nil || !strings.Contains(err.Error(), "put document: author is not UTF-8") {
		t.Errorf("author with NUL: %v", err)
	}
	d, err := store.PrepareDocument(store.Document{Kind: agreements.KindAgreement, ID: "a", YAML: []byte("x")})
	if err != nil || len(d.Hash) != 32 {
		t.Errorf("PrepareDocument = %+v, %v; want the SHA-256 set", d, err)
	}
	draft := store.Lifecycle{AgreementID: "a", LatestVersion: 1, Transitions: []store.Transition{{Seq: 1, To: agreements.StatusDraft, ContentHash: "h1"}}}
	tr := store.Transition{From: agreements.StatusDraft, To: agreements.StatusActive, By: "x"}
	if _, err := draft.Settle(store.LifecycleChange{Transitions: []store.Transition{tr}}, time.Now()); !errors.Is(err, agreements.ErrTransition) {
		t.Errorf("draft → active: %v, want ErrTransition", err)
	}
	tr.To, tr.Reason = agreements.StatusProposed, "\xff"
	if _, err := draft.Settle(store.LifecycleChange{Transitions: []store.Transition{tr}}, time.Now()); err == nil || !strings.Contains(err.Error(), "transition: reason is not UTF-8") {
		t.Errorf("reason not UTF-8: %v", err)
	}
	ap := store.Approval{Agency: "tax", Steward: "x\x00", ContentHash: "h1"}
	if _, err := draft.Settle(store.LifecycleChange{Approvals: []store.Approval{ap}}, time.Now()); err == nil || !strings.Contains(err.Error(), "approval: steward is not UTF-8") {
		t.Errorf("steward with NUL: %v", err)
	}
	s := store.NewSchemaStore(nil) // the checks answer before the rows are asked
	if _, err := s.AddVersion(t.Context(), "a\x00", 1, 0); !errors.Is(err, schemas.ErrInvalidSubject) {
		t.Errorf("subject with NUL: %v, want ErrInvalidSubject", err)
	}
	if _, err := s.CreateSchema(t.Context(), "fp", "\xff"); !errors.Is(err, schemas.ErrInvalidSchema) {
		t.Errorf("schema not UTF-8: %v, want ErrInvalidSchema", err)
	}
}

// TestVersionRules: the next document version and a transition's defaults.
func TestVersionRules(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	d := store.Document{Kind: agreements.KindAgreement, ID: "a", YAML: []byte("v2")}
	if out, ok := store.NextVersion(nil, d, now); !ok || out.Version != 1 || !out.Created.Equal(now.Truncate(time.Microsecond)) || out.Created.Location() != time.UTC {
		t.Errorf("first version = %+v, %v", out, ok)
	}
	latest := []store.Document{{Kind: d.Kind, ID: d.ID, Version: 4, YAML: []byte("v1")}}
	if out, ok := store.NextVersion(latest, d, now); !ok || out.Version != 5 {
		t.Errorf("after version 4 = %+v, %v; want version 5", out, ok)
	}
	latest[0].YAML = d.YAML
	if out, ok := store.NextVersion(latest, d, now); ok || out.Version != 4 {
		t.Errorf("same text again = %+v, %v; want version 4, nothing stored", out, ok)
	}
	active := store.Lifecycle{AgreementID: "a", LatestVersion: 2, Transitions: []store.Transition{
		{Seq: 1, To: agreements.StatusProposed, ContentHash: "h1"},
		{Seq: 2, From: agreements.StatusProposed, To: agreements.StatusApproved, ContentHash: "h1"},
		{Seq: 3, From: agreements.StatusApproved, To: agreements.StatusActive, ContentHash: "h1", ValidUntil: now.Add(time.Hour)},
	}}
	one := func(tr store.Transition) store.LifecycleChange {
		return store.LifecycleChange{Transitions: []store.Transition{tr}}
	}
	if _, err := active.Settle(one(store.Transition{From: agreements.StatusSuspended, To: agreements.StatusRevoked, By: "x"}), now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("From not current: %v, want ErrConflict", err)
	}
	if _, err := (store.Lifecycle{AgreementID: "a"}).Settle(one(store.Transition{From: agreements.StatusDraft, To: agreements.StatusProposed, By: "x"}), now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("first transition not from \"\": %v, want ErrConflict", err)
	}
	c, err := active.Settle(one(store.Transition{From: agreements.StatusActive, To: agreements.StatusSuspended, By: "x", Reason: "r"}), now)
	if err != nil {
		t.Fatalf("active → suspended: %v", err)
	}
	if got := c.Transitions[0]; got.Seq != 4 || got.Version != 2 || got.ContentHash != "h1" || !got.ValidUntil.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) ||
		!got.At.Equal(now.Truncate(time.Microsecond)) || got.At.Location() != time.UTC {
		t.Errorf("Settle = %+v; want seq 4, version 2, h1 and its validity carried over, at now in UTC", got)
	}
	// A terms change reopens any non-final agreement as proposed; the same
	// hash is no terms change, and active → proposed is no edge otherwise.
	if _, err := active.Settle(one(store.Transition{From: agreements.StatusActive, To: agreements.StatusProposed, By: "file:a.yaml", ContentHash: "h2"}), now); err != nil {
		t.Errorf("terms change of an active agreement: %v", err)
	}
	if _, err := active.Settle(one(store.Transition{From: agreements.StatusActive, To: agreements.StatusProposed, By: "file:a.yaml", ContentHash: "h1"}), now); !errors.Is(err, agreements.ErrTransition) {
		t.Errorf("active → proposed on the same terms: %v, want ErrTransition", err)
	}
	revoked := active
	revoked.Transitions = append(revoked.Transitions[:3:3], store.Transition{Seq: 4, From: agreements.StatusActive, To: agreements.StatusRevoked, ContentHash: "h1"})
	if _, err := revoked.Settle(one(store.Transition{From: agreements.StatusRevoked, To: agreements.StatusProposed, By: "file:a.yaml", ContentHash: "h2"}), now); !errors.Is(err, agreements.ErrTransition) {
		t.Errorf("terms change of a revoked agreement: %v, want ErrTransition (final)", err)
	}
}
