package schemas

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A two-version evolution of one record (the HTTP tests of package
// registryhttp use the same texts).
const (
	userV1     = `{"type":"record","name":"User","namespace":"civil","fields":[{"name":"id","type":"string"}]}`
	userV1Norm = `{"name":"civil.User","type":"record","fields":[{"name":"id","type":"string"}]}`
	userV2     = `{"type":"record","name":"User","namespace":"civil","fields":[{"name":"id","type":"string"},{"name":"age","type":"int","default":0}]}`
)

func TestRegisterIsIdempotent(t *testing.T) {
	ctx := context.Background()
	var changes atomic.Int32
	r := quietRegistry(WithOnChange(func(string) { changes.Add(1) }))
	id, err := r.Register(ctx, "s", userV1)
	if err != nil {
		t.Fatal(err)
	}
	pretty := "{\n  \"type\": \"record\",\n  \"namespace\": \"civil\",\n  \"name\": \"User\",\n  \"fields\": [ {\"name\": \"id\", \"type\": \"string\"} ]\n}"
	for _, s := range []string{userV1, pretty} {
		again, err := r.Register(ctx, "s", s)
		if err != nil || again != id {
			t.Fatalf("Register again = %d, %v; want %d", again, err, id)
		}
	}
	if vs, _ := r.Versions(ctx, "s"); len(vs) != 1 {
		t.Fatalf("%d versions, want 1", len(vs))
	}
	if n := changes.Load(); n != 1 {
		t.Fatalf("OnChange called %d times, want once (re-registering is not a change)", n)
	}
	// After a soft delete the same schema comes back as a new version with
	// the same id.
	if _, err := r.DeleteVersion(ctx, "s", 1, false); err != nil {
		t.Fatal(err)
	}
	again, err := r.Register(ctx, "s", userV1)
	if err != nil || again != id {
		t.Fatalf("Register after soft delete = %d, %v", again, err)
	}
	latest, err := r.Latest(ctx, "s")
	if err != nil || latest.Version != 2 || latest.ID != id || latest.Avro == nil || latest.Text != userV1Norm {
		t.Fatalf("Latest = %+v, %v", latest, err)
	}
}

func TestRegisterRejects(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	r.maxDepth = 4
	cases := map[string]struct {
		subject, schema string
		want            error
		msg             string
	}{
		"empty subject":       {"", userV1, ErrInvalidSubject, "empty name"},
		"control in subject":  {"a\x00b", userV1, ErrInvalidSubject, "control character"},
		"long subject":        {strings.Repeat("s", 256), userV1, ErrInvalidSubject, "longer than 255"},
		"dot-dot subject":     {"..", userV1, ErrInvalidSubject, `".." path segment`},
		"dot-dot segment":     {"a/../b", userV1, ErrInvalidSubject, `".." path segment`},
		"dot segment":         {"./a", userV1, ErrInvalidSubject, `"." path segment`},
		"bad UTF-8 subject":   {"a\xffb", userV1, ErrInvalidSubject, "UTF-8"},
		"bidi override":       {"ingress.health\u202e.x-value", userV1, ErrInvalidSubject, "format character U+202E"},
		"bidi isolate":        {"a\u2066b", userV1, ErrInvalidSubject, "format character U+2066"},
		"zero-width space":    {"a\u200bb", userV1, ErrInvalidSubject, "format character U+200B"},
		"byte order mark":     {"\ufeffa", userV1, ErrInvalidSubject, "format character U+FEFF"},
		"line separator":      {"a\u2028b", userV1, ErrInvalidSubject, "separator U+2028"},
		"paragraph separator": {"a\u2029b", userV1, ErrInvalidSubject, "separator U+2029"},
		"not json":            {"s", `{"type":"record"`, ErrInvalidSchema, "not valid JSON"},
		"two json values":     {"s", `"int" "long"`, ErrInvalidSchema, "not valid JSON (want exactly one value)"},
		"unknown type":        {"s", `{"type":"decimal128"}`, ErrInvalidSchema, "does not parse as Avro"},
		"self recursion":      {"s", `{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`, ErrInvalidSchema, `recursive type "Node"`},
		"mutual recursion":    {"s", `{"type":"record","name":"A","fields":[{"name":"b","type":{"type":"record","name":"B","fields":[{"name":"a","type":["null","A"]}]}}]}`, ErrInvalidSchema, `recursive type "A"`},
		"too deep":            {"s", `{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":"int"}}}}}`, ErrInvalidSchema, "deeper than 4 levels"},
		"array of null":       {"s", `{"type":"array","items":"null"}`, ErrInvalidSchema, "encode to zero bytes"},
		"array of empty rec":  {"s", `{"type":"array","items":{"type":"record","name":"E","fields":[{"name":"n","type":"null"}]}}`, ErrInvalidSchema, "encode to zero bytes"},
		"array of fixed 0":    {"s", `{"type":"array","items":{"type":"fixed","name":"Z","size":0}}`, ErrInvalidSchema, "encode to zero bytes"},
		"json deeper than ok": {"s", strings.Repeat("[", 100) + strings.Repeat("]", 100), ErrInvalidSchema, "JSON nested deeper"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := r.Register(ctx, tc.subject, tc.schema)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
			var ise *InvalidSubjectError
			if tc.want == ErrInvalidSubject && (!errors.As(err, &ise) || ise.Subject != tc.subject || !strings.Contains(ise.Reason, tc.msg)) {
				t.Fatalf("errors.As(%v) = %+v, want an *InvalidSubjectError of %q", err, ise, tc.subject)
			}
		})
	}
	// Depth 4 itself is fine.
	if _, err := r.Register(ctx, "s", `{"type":"array","items":{"type":"array","items":{"type":"array","items":{"type":"array","items":"int"}}}}`); err != nil {
		t.Fatalf("depth 4: %v", err)
	}
}

// TestNamedTypesDoNotLeak: a type defined in one registered schema is not
// visible to the next parse (hamba's default cache is global).
func TestNamedTypesDoNotLeak(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	if _, err := r.Register(ctx, "a", `{"type":"record","name":"Leaky","namespace":"x","fields":[{"name":"f","type":"int"}]}`); err != nil {
		t.Fatal(err)
	}
	_, err := r.Register(ctx, "b", `{"type":"record","name":"Uses","namespace":"x","fields":[{"name":"l","type":"x.Leaky"}]}`)
	if !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("a reference to a type defined only in another schema parsed: %v", err)
	}
	// And the same name may be defined differently elsewhere.
	if _, err := r.Register(ctx, "c", `{"type":"record","name":"Leaky","namespace":"x","fields":[{"name":"g","type":"string"}]}`); err != nil {
		t.Fatalf("redefining a name in another subject: %v", err)
	}
}

func TestLookupAndSchemaByID(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	id, _ := r.Register(ctx, "s", userV1)
	sv, err := r.Lookup(ctx, "s", userV1, false)
	if err != nil || sv.ID != id || sv.Version != 1 || sv.Subject != "s" {
		t.Fatalf("Lookup = %+v, %v", sv, err)
	}
	if _, err := r.Lookup(ctx, "s", userV2, false); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("Lookup(unregistered) = %v", err)
	}
	if _, err := r.Lookup(ctx, "nope", userV1, false); !errors.Is(err, ErrSubjectNotFound) {
		t.Fatalf("Lookup(no subject) = %v", err)
	}
	if _, err := r.DeleteVersion(ctx, "s", 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(ctx, "s", userV1, false); !errors.Is(err, ErrSubjectNotFound) {
		t.Fatalf("Lookup after soft delete = %v", err)
	}
	if sv, err := r.Lookup(ctx, "s", userV1, true); err != nil || !sv.Deleted {
		t.Fatalf("Lookup(deleted=true) = %+v, %v", sv, err)
	}
	if s, err := r.SchemaByID(ctx, id); err != nil || s.Text != userV1Norm || s.Avro.Type() != "record" {
		t.Fatalf("SchemaByID = %+v, %v", s, err)
	}
	if _, err := r.SchemaByID(ctx, id+1); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("SchemaByID(unknown) = %v", err)
	}
	if vs, err := r.VersionsBySchemaID(ctx, id+1, true); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("VersionsBySchemaID(unknown) = %v, %v", vs, err)
	}
}

// TestIdentityKeepsDefaults: two schemas with the same Parsing Canonical
// Form (they differ in docs and a default) are two registry ids.
func TestIdentityKeepsDefaults(t *testing.T) {
	a := `{"type":"record","name":"R","namespace":"n","doc":"one","fields":[{"name":"x","type":"int","default":1,"doc":"d"}]}`
	b := `{"namespace":"n","name":"R","type":"record","fields":[{"type":"int","name":"x"}]}`
	pa, err := parseSchema(a, maxSchemaDepth)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := parseSchema(b, maxSchemaDepth)
	if err != nil {
		t.Fatal(err)
	}
	if pa.schema.Fingerprint() != pb.schema.Fingerprint() {
		t.Fatal("schemas differing only in docs and defaults have different canonical fingerprints")
	}
	ctx := context.Background()
	r := quietRegistry()
	r.defaultLevel = None
	id1, _ := r.Register(ctx, "s", a)
	id2, _ := r.Register(ctx, "s", b)
	if id1 == id2 {
		t.Fatal("schemas differing in a default share a registry id")
	}
}

// racingStore lets "another process" append a version right before the
// registry's first AddVersion.
type racingStore struct {
	Store
	once  sync.Once
	other func()
}

func (s *racingStore) AddVersion(ctx context.Context, subject string, id, expected int) (int, error) {
	s.once.Do(s.other)
	return s.Store.AddVersion(ctx, subject, id, expected)
}

// TestRegisterRechecksAfterConflict: a version appended concurrently by
// another registry process is checked before the new one lands.
func TestRegisterRechecksAfterConflict(t *testing.T) {
	ctx := context.Background()
	base := NewMemoryStore()
	other := quietRegistry()
	other.store = base
	if _, err := other.Register(ctx, "s", rec(fID, fAgeInt)); err != nil {
		t.Fatal(err)
	}
	rs := &racingStore{Store: base}
	rs.other = func() {
		// Compatible with v1, but the candidate below cannot read it.
		if _, err := other.Register(ctx, "s", rec(fID, fAgeLong)); err != nil {
			t.Errorf("other process: %v", err)
		}
	}
	r := NewRegistry(rs, WithLogger(other.log))
	// int age: reads v1 (int) but not v2 (long).
	_, err := r.Register(ctx, "s", rec(fID, fAgeInt, fDoseDef))
	if !errors.Is(err, ErrIncompatible) || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("want incompatible with the concurrently added version 2, got %v", err)
	}
	if vs, _ := r.Versions(ctx, "s"); len(vs) != 2 {
		t.Fatalf("%d versions, want 2", len(vs))
	}
}

func TestConfigLevels(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	r.defaultLevel = Full
	if lvl, _ := r.Config(ctx, "s"); lvl != Full {
		t.Fatalf("default = %s, want FULL", lvl)
	}
	if err := r.SetConfig(ctx, "", None); err != nil {
		t.Fatal(err)
	}
	if lvl, _ := r.Config(ctx, "s"); lvl != None {
		t.Fatalf("subject inherits %s, want NONE", lvl)
	}
	if err := r.SetConfig(ctx, "s", "SIDEWAYS"); !errors.Is(err, ErrInvalidCompatibility) {
		t.Fatalf("SetConfig(invalid) = %v", err)
	}
	for _, in := range []string{"backward", "Full_Transitive", "NONE"} {
		if _, err := ParseCompatibility(in); err != nil {
			t.Errorf("ParseCompatibility(%q): %v", in, err)
		}
	}
	if _, err := ParseCompatibility("BACKWARDS"); !errors.Is(err, ErrInvalidCompatibility) {
		t.Errorf("ParseCompatibility(BACKWARDS) = %v", err)
	}
}

func TestCancelledContextIsReported(t *testing.T) {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	r := quietRegistry()
	if _, err := r.Register(c, "s", userV1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Register with a cancelled context = %v", err)
	}
}
