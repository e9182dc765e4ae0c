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
	tr := store.Transition{AgreementID: "a", From: agreements.StatusDraft, To: agreements.StatusActive}
	if err := tr.Check(); !errors.Is(err, agreements.ErrTransition) {
		t.Errorf("draft → active: %v, want ErrTransition", err)
	}
	tr.Reason = "\xff"
	if err := tr.Check(); err == nil || !strings.Contains(err.Error(), "transition: reason is not UTF-8") {
		t.Errorf("reason not UTF-8: %v", err)
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
	tr := store.Transition{AgreementID: "a", From: agreements.StatusActive, To: agreements.StatusSuspended}
	if _, err := tr.Settle(agreements.StatusSuspended, 2, now); !errors.Is(err, store.ErrConflict) {
		t.Errorf("From not current: %v, want ErrConflict", err)
	}
	got, err := tr.Settle(agreements.StatusActive, 2, now)
	if err != nil || got.Version != 2 || !got.At.Equal(now.Truncate(time.Microsecond)) || got.At.Location() != time.UTC {
		t.Errorf("Settle = %+v, %v; want version 2, at now in UTC", got, err)
	}
}
