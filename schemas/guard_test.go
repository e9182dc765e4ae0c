package schemas

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// TestGuardRefusesWhateverTheLevel: the guard sees every new version, even
// under NONE; its refusal is a *GuardError (ErrRefused), nothing is stored,
// no change is notified, and CheckCompatibility reports it too.
func TestGuardRefusesWhateverTheLevel(t *testing.T) {
	ctx := context.Background()
	const subject = "ingress.health.immunisations-value"
	changes := 0
	var seen []string
	r := quietRegistry(WithOnChange(func(string) { changes++ }), WithGuard(func(_ context.Context, s string, c avro.Schema) error {
		seen = append(seen, s)
		if rs, ok := c.(*avro.RecordSchema); ok {
			for _, f := range rs.Fields() {
				if f.Name() == "record_id" {
					return nil
				}
			}
		}
		return &GuardError{Agreement: "a-1", Field: "record_id", Reason: "agreement a-1 delivers field record_id, which this version removes"}
	}))
	if _, err := r.Register(ctx, subject, rec(fID)); err != nil {
		t.Fatal(err)
	}
	for _, level := range []Compatibility{Backward, None} {
		if err := r.SetConfig(ctx, subject, level); err != nil {
			t.Fatal(err)
		}
		_, err := r.Register(ctx, subject, rec(`{"name":"x","type":"string","default":""}`))
		var ge *GuardError
		if !errors.Is(err, ErrRefused) || !errors.As(err, &ge) || ge.Subject != subject || ge.Field != "record_id" ||
			err.Error() != "schema refused: agreement a-1 delivers field record_id, which this version removes" {
			t.Fatalf("%s: got %v (%+v), want the guard's refusal", level, err, ge)
		}
		res, err := r.CheckCompatibility(ctx, subject, AllVersions, rec(`{"name":"x","type":"string","default":""}`))
		if err != nil || res.Compatible || !strings.Contains(strings.Join(res.Messages, ";"), "delivers field record_id") {
			t.Fatalf("%s: CheckCompatibility = %+v, %v, want the refusal among the messages", level, res, err)
		}
	}
	if vs, _ := r.Versions(ctx, subject); len(vs) != 1 || changes != 1 {
		t.Fatalf("%d versions, %d changes notified; want the first only", len(vs), changes)
	}
	// An accepted version is stored; the guard saw the subject each time.
	if _, err := r.Register(ctx, subject, rec(fID, fPhone2)); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[0] != subject {
		t.Fatalf("guard saw %v", seen)
	}
	// Another error from the guard fails the registration, not as a refusal.
	boom := errors.New("boom")
	r2 := quietRegistry(WithGuard(func(context.Context, string, avro.Schema) error { return boom }))
	if _, err := r2.Register(ctx, subject, rec(fID)); !errors.Is(err, boom) || errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want boom wrapped", err)
	}
}
