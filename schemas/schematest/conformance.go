// Package schematest holds the conformance suite every schemas.Store
// implementation must pass. Run it from the backend's tests:
//
//	func TestConformance(t *testing.T) {
//		schematest.RunStoreConformance(t, func(t *testing.T) schemas.Store {
//			return newEmptyStore(t) // a fresh, empty store per call
//		})
//	}
package schematest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/schemas"
)

// RunStoreConformance runs the Store contract against stores made by
// newStore, which must return a fresh, empty store on each call (and
// register its own cleanup with t).
func RunStoreConformance(t *testing.T, newStore func(t *testing.T) schemas.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s schemas.Store)
	}{
		{"CreateSchemaIsIdempotent", testCreateSchema},
		{"CreateSchemaConcurrent", testCreateSchemaConcurrent},
		{"SchemaNotFound", testSchemaNotFound},
		{"TextRoundTripsExactly", testTextRoundTrip},
		{"AddVersionCompareAndAppend", testAddVersion},
		{"AddVersionConcurrent", testAddVersionConcurrent},
		{"VersionsAndVersion", testVersions},
		{"Subjects", testSubjects},
		{"SubjectNamesAreOpaque", testSubjectNames},
		{"VersionsBySchemaID", testVersionsBySchemaID},
		{"SoftDelete", testSoftDelete},
		{"PermanentDelete", testDeleteVersion},
		{"Config", testConfig},
		{"CancelledContext", testCancelled},
		{"RegistryOnTop", testRegistry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSchema(t *testing.T, s schemas.Store, fp, text string) int {
	t.Helper()
	id, err := s.CreateSchema(ctx(t), fp, text)
	if err != nil {
		t.Fatalf("CreateSchema(%s): %v", fp, err)
	}
	return id
}

func mustAdd(t *testing.T, s schemas.Store, subject string, id, expected int) int {
	t.Helper()
	v, err := s.AddVersion(ctx(t), subject, id, expected)
	if err != nil {
		t.Fatalf("AddVersion(%q, %d, %d): %v", subject, id, expected, err)
	}
	return v
}

func sv(subject string, version, id int, deleted bool) schemas.SubjectVersion {
	return schemas.SubjectVersion{Subject: subject, Version: version, SchemaID: id, Deleted: deleted}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func testCreateSchema(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	b := mustSchema(t, s, "fp-b", `"int"`)
	if a <= 0 || b <= 0 || a == b {
		t.Fatalf("ids %d, %d: want distinct positive ids", a, b)
	}
	if again := mustSchema(t, s, "fp-a", `"string"`); again != a {
		t.Errorf("CreateSchema again = %d, want existing id %d", again, a)
	}
	got, err := s.SchemaByID(ctx(t), a)
	if err != nil || got != (schemas.StoredSchema{ID: a, Text: `"string"`, Fingerprint: "fp-a"}) {
		t.Errorf("SchemaByID(%d) = %+v, %v", a, got, err)
	}
	got, err = s.SchemaByFingerprint(ctx(t), "fp-b")
	if err != nil || got != (schemas.StoredSchema{ID: b, Text: `"int"`, Fingerprint: "fp-b"}) {
		t.Errorf("SchemaByFingerprint(fp-b) = %+v, %v", got, err)
	}
}

func testCreateSchemaConcurrent(t *testing.T, s schemas.Store) {
	const n = 8
	ids := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = s.CreateSchema(ctx(t), "fp-same", `"long"`)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("concurrent CreateSchema: %v", errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("concurrent CreateSchema returned ids %v, want one id", ids)
		}
	}
}

func testSchemaNotFound(t *testing.T, s schemas.Store) {
	_, err := s.SchemaByID(ctx(t), 12345)
	wantErr(t, "SchemaByID(unknown)", err, schemas.ErrSchemaNotFound)
	_, err = s.SchemaByFingerprint(ctx(t), "nope")
	wantErr(t, "SchemaByFingerprint(unknown)", err, schemas.ErrSchemaNotFound)
	_, err = s.AddVersion(ctx(t), "s", 12345, 0)
	wantErr(t, "AddVersion(unknown schema)", err, schemas.ErrSchemaNotFound)
	if _, err := s.Versions(ctx(t), "s", true); !errors.Is(err, schemas.ErrSubjectNotFound) {
		t.Errorf("AddVersion with an unknown schema left a version behind (Versions: %v)", err)
	}
}

func testTextRoundTrip(t *testing.T, s schemas.Store) {
	// Large, with quotes, backslashes, non-ASCII and a NUL-free binary-ish tail.
	text := `{"type":"record","name":"Ünïcode","doc":"quotes \" and \\ and 'single' — ` +
		strings.Repeat("x", 200_000) + `","fields":[]}`
	fp := strings.Repeat("f", 64)
	id := mustSchema(t, s, fp, text)
	got, err := s.SchemaByID(ctx(t), id)
	if err != nil || got.Text != text || got.Fingerprint != fp {
		t.Errorf("text or fingerprint did not round-trip (len %d vs %d, err %v)", len(got.Text), len(text), err)
	}
}

func testAddVersion(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	b := mustSchema(t, s, "fp-b", `"int"`)
	if v := mustAdd(t, s, "subj", a, 0); v != 1 {
		t.Fatalf("first version = %d, want 1", v)
	}
	_, err := s.AddVersion(ctx(t), "subj", b, 0)
	wantErr(t, "AddVersion with stale expectedLatest", err, schemas.ErrConflict)
	_, err = s.AddVersion(ctx(t), "subj", b, 5)
	wantErr(t, "AddVersion with future expectedLatest", err, schemas.ErrConflict)
	if v := mustAdd(t, s, "subj", b, 1); v != 2 {
		t.Fatalf("second version = %d, want 2", v)
	}
	// The same schema may appear twice in a subject (the registry decides
	// whether that is allowed).
	if v := mustAdd(t, s, "subj", a, 2); v != 3 {
		t.Fatalf("third version = %d, want 3", v)
	}
	vs, err := s.Versions(ctx(t), "subj", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []schemas.SubjectVersion{sv("subj", 1, a, false), sv("subj", 2, b, false), sv("subj", 3, a, false)}
	if !reflect.DeepEqual(vs, want) {
		t.Errorf("Versions = %+v, want %+v", vs, want)
	}
}

func testAddVersionConcurrent(t *testing.T, s schemas.Store) {
	id := mustSchema(t, s, "fp-a", `"string"`)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.AddVersion(ctx(t), "race", id, 0)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, schemas.ErrConflict):
			t.Errorf("concurrent AddVersion: %v, want nil or ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent AddVersion(expectedLatest=0) succeeded, want exactly 1", ok)
	}
	vs, err := s.Versions(ctx(t), "race", true)
	if err != nil || len(vs) != 1 {
		t.Errorf("after the race: %d versions (%v), want 1", len(vs), err)
	}
}

func testVersions(t *testing.T, s schemas.Store) {
	_, err := s.Versions(ctx(t), "none", true)
	wantErr(t, "Versions(no subject)", err, schemas.ErrSubjectNotFound)
	_, err = s.Version(ctx(t), "none", 1)
	wantErr(t, "Version(no subject)", err, schemas.ErrSubjectNotFound)
	a := mustSchema(t, s, "fp-a", `"string"`)
	mustAdd(t, s, "subj", a, 0)
	_, err = s.Version(ctx(t), "subj", 2)
	wantErr(t, "Version(missing version)", err, schemas.ErrVersionNotFound)
	v, err := s.Version(ctx(t), "subj", 1)
	if err != nil || v != (schemas.SubjectVersion{Subject: "subj", Version: 1, SchemaID: a}) {
		t.Errorf("Version = %+v, %v", v, err)
	}
	// Subjects are case-sensitive.
	_, err = s.Versions(ctx(t), "SUBJ", true)
	wantErr(t, "Versions(other case)", err, schemas.ErrSubjectNotFound)
}

func testSubjects(t *testing.T, s schemas.Store) {
	got, err := s.Subjects(ctx(t), true)
	if err != nil || len(got) != 0 {
		t.Fatalf("Subjects on an empty store = %v, %v", got, err)
	}
	a := mustSchema(t, s, "fp-a", `"string"`)
	for _, subj := range []string{"c", "a", "b"} {
		mustAdd(t, s, subj, a, 0)
	}
	if err := s.SoftDeleteVersion(ctx(t), "b", 1); err != nil {
		t.Fatal(err)
	}
	got, err = s.Subjects(ctx(t), false)
	if err != nil || !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("Subjects(live) = %v, %v; want [a c]", got, err)
	}
	got, err = s.Subjects(ctx(t), true)
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Subjects(all) = %v, %v; want [a b c]", got, err)
	}
}

func testSubjectNames(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	names := []string{"ingress.health.immunisations-value", "team/a", "x'; DROP TABLE versions; --", "ünï code", "%2F", "a b"}
	for _, n := range names {
		mustAdd(t, s, n, a, 0)
	}
	for _, n := range names {
		v, err := s.Version(ctx(t), n, 1)
		if err != nil || v.Subject != n {
			t.Errorf("Version(%q) = %+v, %v", n, v, err)
		}
	}
	got, err := s.Subjects(ctx(t), false)
	if err != nil || len(got) != len(names) {
		t.Errorf("Subjects = %q, %v", got, err)
	}
}

func testVersionsBySchemaID(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	b := mustSchema(t, s, "fp-b", `"int"`)
	got, err := s.VersionsBySchemaID(ctx(t), a, true)
	if err != nil || len(got) != 0 {
		t.Fatalf("VersionsBySchemaID(unused) = %v, %v; want empty", got, err)
	}
	mustAdd(t, s, "y", a, 0)
	mustAdd(t, s, "x", b, 0)
	mustAdd(t, s, "x", a, 1)
	mustAdd(t, s, "y", a, 1)
	if err := s.SoftDeleteVersion(ctx(t), "y", 1); err != nil {
		t.Fatal(err)
	}
	got, err = s.VersionsBySchemaID(ctx(t), a, false)
	want := []schemas.SubjectVersion{sv("x", 2, a, false), sv("y", 2, a, false)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("VersionsBySchemaID(live) = %+v, %v; want %+v", got, err, want)
	}
	got, err = s.VersionsBySchemaID(ctx(t), a, true)
	want = []schemas.SubjectVersion{sv("x", 2, a, false), sv("y", 1, a, true), sv("y", 2, a, false)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("VersionsBySchemaID(all) = %+v, %v; want %+v", got, err, want)
	}
}

func testSoftDelete(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	mustAdd(t, s, "subj", a, 0)
	mustAdd(t, s, "subj", a, 1)
	for range 2 { // idempotent
		if err := s.SoftDeleteVersion(ctx(t), "subj", 1); err != nil {
			t.Fatalf("SoftDeleteVersion: %v", err)
		}
	}
	wantErr(t, "SoftDeleteVersion(missing version)", s.SoftDeleteVersion(ctx(t), "subj", 9), schemas.ErrVersionNotFound)
	wantErr(t, "SoftDeleteVersion(missing subject)", s.SoftDeleteVersion(ctx(t), "none", 1), schemas.ErrSubjectNotFound)
	v, err := s.Version(ctx(t), "subj", 1)
	if err != nil || !v.Deleted {
		t.Errorf("Version after soft delete = %+v, %v; want Deleted", v, err)
	}
	live, err := s.Versions(ctx(t), "subj", false)
	if err != nil || len(live) != 1 || live[0].Version != 2 {
		t.Errorf("live versions = %+v, %v; want [2]", live, err)
	}
	// Soft-deleted versions still count for numbering.
	if err := s.SoftDeleteVersion(ctx(t), "subj", 2); err != nil {
		t.Fatal(err)
	}
	_, err = s.Versions(ctx(t), "subj", false)
	wantErr(t, "Versions(live) of a fully soft-deleted subject", err, schemas.ErrSubjectNotFound)
	_, err = s.AddVersion(ctx(t), "subj", a, 0)
	wantErr(t, "AddVersion ignoring soft-deleted versions", err, schemas.ErrConflict)
	if v := mustAdd(t, s, "subj", a, 2); v != 3 {
		t.Errorf("version after soft deletes = %d, want 3", v)
	}
}

func testDeleteVersion(t *testing.T, s schemas.Store) {
	a := mustSchema(t, s, "fp-a", `"string"`)
	mustAdd(t, s, "subj", a, 0)
	mustAdd(t, s, "subj", a, 1)
	if err := s.DeleteVersion(ctx(t), "subj", 2); err != nil {
		t.Fatal(err)
	}
	_, err := s.Version(ctx(t), "subj", 2)
	wantErr(t, "Version after permanent delete", err, schemas.ErrVersionNotFound)
	wantErr(t, "DeleteVersion twice", s.DeleteVersion(ctx(t), "subj", 2), schemas.ErrVersionNotFound)
	// Numbering continues from the highest remaining version.
	if v := mustAdd(t, s, "subj", a, 1); v != 2 {
		t.Errorf("version after permanent delete of the latest = %d, want 2", v)
	}
	for _, v := range []int{1, 2} {
		if err := s.DeleteVersion(ctx(t), "subj", v); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Versions(ctx(t), "subj", true)
	wantErr(t, "Versions after deleting all", err, schemas.ErrSubjectNotFound)
	wantErr(t, "DeleteVersion(missing subject)", s.DeleteVersion(ctx(t), "subj", 1), schemas.ErrSubjectNotFound)
	// The schema row stays.
	if _, err := s.SchemaByID(ctx(t), a); err != nil {
		t.Errorf("schema gone after its versions were deleted: %v", err)
	}
	if v := mustAdd(t, s, "subj", a, 0); v != 1 {
		t.Errorf("first version after deleting all = %d, want 1", v)
	}
}

func testConfig(t *testing.T, s schemas.Store) {
	_, err := s.Config(ctx(t), "")
	wantErr(t, "Config(global, unset)", err, schemas.ErrConfigNotFound)
	_, err = s.Config(ctx(t), "subj")
	wantErr(t, "Config(subject, unset)", err, schemas.ErrConfigNotFound)
	wantErr(t, "DeleteConfig(unset)", s.DeleteConfig(ctx(t), "subj"), schemas.ErrConfigNotFound)
	for _, step := range []struct {
		subject string
		level   schemas.Compatibility
	}{{"", schemas.Full}, {"subj", schemas.None}, {"subj", schemas.ForwardTransitive}, {"", schemas.BackwardTransitive}} {
		if err := s.SetConfig(ctx(t), step.subject, step.level); err != nil {
			t.Fatal(err)
		}
		got, err := s.Config(ctx(t), step.subject)
		if err != nil || got != step.level {
			t.Errorf("Config(%q) = %q, %v; want %q", step.subject, got, err, step.level)
		}
	}
	if err := s.DeleteConfig(ctx(t), "subj"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Config(ctx(t), "subj")
	wantErr(t, "Config after delete", err, schemas.ErrConfigNotFound)
	if got, err := s.Config(ctx(t), ""); err != nil || got != schemas.BackwardTransitive {
		t.Errorf("global config changed by deleting a subject's: %q, %v", got, err)
	}
}

func testCancelled(t *testing.T, s schemas.Store) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{}
	_, checks["CreateSchema"] = s.CreateSchema(c, "fp", `"string"`)
	_, checks["SchemaByID"] = s.SchemaByID(c, 1)
	_, checks["Versions"] = s.Versions(c, "s", true)
	_, checks["Subjects"] = s.Subjects(c, true)
	_, checks["AddVersion"] = s.AddVersion(c, "s", 1, 0)
	checks["SetConfig"] = s.SetConfig(c, "", schemas.Full)
	for name, err := range checks {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

// testRegistry drives the registry over the store: what the exchange does.
func testRegistry(t *testing.T, s schemas.Store) {
	reg := schemas.NewRegistry(s, schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":"string","default":""}]}`
	bad := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	id1, err := reg.Register(ctx(t), "ingress.x-value", v1)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := reg.Register(ctx(t), "ingress.x-value", v2)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := reg.Register(ctx(t), "ingress.x-value", v1); err != nil || again != id1 {
		// v1 is still a live version: registering it again returns its id.
		t.Errorf("re-register v1 = %d, %v; want %d", again, err, id1)
	}
	if _, err := reg.Register(ctx(t), "other", bad); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetConfig(ctx(t), "ingress.x-value", schemas.FullTransitive); err != nil {
		t.Fatal(err)
	}
	v3 := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`
	if _, err := reg.Register(ctx(t), "ingress.x-value", v3); !errors.Is(err, schemas.ErrIncompatible) {
		t.Errorf("v3 under FULL_TRANSITIVE (int version 1 cannot read long): %v, want ErrIncompatible", err)
	}
	latest, err := reg.Latest(ctx(t), "ingress.x-value")
	if err != nil || latest.ID != id2 || latest.Version != 2 || latest.Avro == nil {
		t.Errorf("Latest = %+v, %v", latest, err)
	}
	got, err := reg.SchemaByID(ctx(t), id2)
	if err != nil || got.Avro.Type() != "record" {
		t.Errorf("SchemaByID = %+v, %v", got, err)
	}
	if _, err := reg.DeleteSubject(ctx(t), "ingress.x-value", false); err != nil {
		t.Fatal(err)
	}
	if n, err := reg.DeleteSubject(ctx(t), "ingress.x-value", true); err != nil || fmt.Sprint(n) != "[1 2]" {
		t.Errorf("permanent delete = %v, %v", n, err)
	}
	subjects, err := reg.ListSubjects(ctx(t), true)
	if err != nil || fmt.Sprint(subjects) != "[other]" {
		t.Errorf("subjects = %v, %v", subjects, err)
	}
}
