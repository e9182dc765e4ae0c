package agreements

import (
	"testing"
	"time"
)

func TestContentHashCoversTermsNotLifecycle(t *testing.T) {
	base := func() *Agreement {
		return &Agreement{ID: "a-1", Provider: "health.immunisations", Consumer: "tax", Purpose: "p", LegalBasis: "l",
			ValidFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Fields:    []FieldRule{{Name: "x", Transform: Transform{Kind: "pseudonymise"}}}}
	}
	h := base().ContentHash()
	if len(h) != 64 {
		t.Fatalf("hash %q: want 64 hex digits", h)
	}
	life := base()
	life.Status = StatusActive
	life.Approvals = []Approval{{Agency: "tax", Steward: "s", At: time.Now()}}
	life.History = []Transition{{From: StatusProposed, To: StatusActive, By: "s"}}
	if life.ContentHash() != h {
		t.Error("status, approvals or history changed the content hash")
	}
	for name, edit := range map[string]func(*Agreement){
		"purpose":     func(a *Agreement) { a.Purpose = "other" },
		"legal basis": func(a *Agreement) { a.LegalBasis = "other" },
		"valid_until": func(a *Agreement) { a.ValidUntil = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) },
		"transform":   func(a *Agreement) { a.Fields[0].Transform.Kind = "keep" },
		"field added": func(a *Agreement) { a.Fields = append(a.Fields, FieldRule{Name: "y"}) },
		"filter":      func(a *Agreement) { a.Filter = "true" },
		"consumer":    func(a *Agreement) { a.Consumer = "police" },
		"bucket":      func(a *Agreement) { a.Fields[0].Transform.Bucket = 10 },
	} {
		a := base()
		edit(a)
		if a.ContentHash() == h {
			t.Errorf("changing the %s did not change the content hash", name)
		}
	}
}
