package schemas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// rec builds a record schema named health.Immunisation (or name) from
// field JSON snippets.
func rec(fields ...string) string { return recNamed("Immunisation", "", fields...) }

func recNamed(name, aliases string, fields ...string) string {
	a := ""
	if aliases != "" {
		a = `,"aliases":[` + aliases + `]`
	}
	return `{"type":"record","name":"` + name + `","namespace":"health"` + a + `,"fields":[` + strings.Join(fields, ",") + `]}`
}

const (
	fID       = `{"name":"record_id","type":"string"}`
	fAgeInt   = `{"name":"age","type":"int"}`
	fAgeLong  = `{"name":"age","type":"long"}`
	fAgeFloat = `{"name":"age","type":"float"}`
	fAgeDbl   = `{"name":"age","type":"double"}`
	fDose     = `{"name":"dose_number","type":"int"}`
	fDoseDef  = `{"name":"dose_number","type":"int","default":1}`
	fVacc3    = `{"name":"vaccine","type":{"type":"enum","name":"Vaccine","symbols":["MMR","DTP","HPV"]}}`
	fVacc2    = `{"name":"vaccine","type":{"type":"enum","name":"Vaccine","symbols":["MMR","DTP"]}}`
	fVacc2Def = `{"name":"vaccine","type":{"type":"enum","name":"Vaccine","symbols":["MMR","DTP","UNKNOWN"],"default":"UNKNOWN"}}`
	fPhone2   = `{"name":"phone","type":["null","string"],"default":null}`
	fPhone3   = `{"name":"phone","type":["null","string","long"],"default":null}`
	fPhoneStr = `{"name":"phone","type":"string"}`
	fClinic   = `{"name":"clinic","type":{"type":"record","name":"Clinic","fields":[{"name":"id","type":"string"},{"name":"region","type":"int"}]}}`
	fClinicL  = `{"name":"clinic","type":{"type":"record","name":"Clinic","fields":[{"name":"id","type":"string"},{"name":"region","type":"long"}]}}`
	fClinicS  = `{"name":"clinic","type":{"type":"record","name":"Clinic","fields":[{"name":"id","type":"string"},{"name":"region","type":"string"}]}}`
)

func quietRegistry(opts ...Option) *Registry {
	return NewRegistry(NewMemoryStore(), append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)...)
}

// evolve registers history under NONE, then registers candidate under
// level and returns Register's error.
func evolve(t *testing.T, level Compatibility, history []string, candidate string) error {
	t.Helper()
	ctx := context.Background()
	r := quietRegistry()
	const subject = "ingress.health.immunisations-value"
	if err := r.SetConfig(ctx, subject, None); err != nil {
		t.Fatal(err)
	}
	for i, h := range history {
		if _, err := r.Register(ctx, subject, h); err != nil {
			t.Fatalf("registering history version %d: %v", i+1, err)
		}
	}
	if err := r.SetConfig(ctx, subject, level); err != nil {
		t.Fatal(err)
	}
	_, err := r.Register(ctx, subject, candidate)
	return err
}

func TestCompatibilityEvolution(t *testing.T) {
	v1 := rec(fID, fAgeInt)
	cases := []struct {
		name      string
		level     Compatibility
		history   []string
		candidate string
		want      []string // substrings of the messages; nil = compatible
	}{
		// Field added.
		{"backward/field added with default", Backward, []string{v1}, rec(fID, fAgeInt, fDoseDef), nil},
		{"backward/field added without default", Backward, []string{v1}, rec(fID, fAgeInt, fDose),
			[]string{`field "dose_number" (record health.Immunisation): reader field has no default and writer type "record health.Immunisation" has no such field (BACKWARD: new schema must read data written with version 1)`}},
		{"forward/field added without default", Forward, []string{v1}, rec(fID, fAgeInt, fDose), nil},
		{"full/field added without default", Full, []string{v1}, rec(fID, fAgeInt, fDose), []string{`field "dose_number"`, "(FULL: new schema must read data written with version 1)"}},
		{"full/field added with default", Full, []string{v1}, rec(fID, fAgeInt, fDoseDef), nil},
		// Field removed.
		{"backward/field removed", Backward, []string{rec(fID, fAgeInt, fDose)}, v1, nil},
		{"forward/field removed without default", Forward, []string{rec(fID, fAgeInt, fDose)}, v1,
			[]string{`field "dose_number" (record health.Immunisation): reader field has no default`, "(FORWARD: version 1 must read data written with the new schema)"}},
		{"forward/field removed that had a default", Forward, []string{rec(fID, fAgeInt, fDoseDef)}, v1, nil},
		{"full/field removed that had a default", Full, []string{rec(fID, fAgeInt, fDoseDef)}, v1, nil},
		// Promotions.
		{"backward/int to long", Backward, []string{v1}, rec(fID, fAgeLong), nil},
		{"backward/int to double", Backward, []string{v1}, rec(fID, fAgeDbl), nil},
		{"backward/float to double", Backward, []string{rec(fID, fAgeFloat)}, rec(fID, fAgeDbl), nil},
		{"backward/long to int", Backward, []string{rec(fID, fAgeLong)}, v1,
			[]string{`field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int" (BACKWARD: new schema must read data written with version 1)`}},
		{"backward/double to float", Backward, []string{rec(fID, fAgeDbl)}, rec(fID, fAgeFloat), []string{`writer type "double" cannot be read as reader type "float"`}},
		{"forward/int to long", Forward, []string{v1}, rec(fID, fAgeLong), []string{`field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int" (FORWARD`}},
		{"full/int to long", Full, []string{v1}, rec(fID, fAgeLong), []string{`writer type "long" cannot be read as reader type "int" (FULL: version 1 must read`}},
		{"full/string to bytes", Full, []string{rec(fID)}, rec(`{"name":"record_id","type":"bytes"}`), nil},
		{"none/long to int", None, []string{rec(fID, fAgeLong)}, v1, nil},
		// Enums.
		{"backward/enum symbol added", Backward, []string{rec(fID, fVacc2)}, rec(fID, fVacc3), nil},
		{"backward/enum symbol removed", Backward, []string{rec(fID, fVacc3)}, rec(fID, fVacc2),
			[]string{`field "vaccine" (record health.Immunisation): writer type "enum health.Vaccine" has symbols ["HPV"] that reader type "enum health.Vaccine" lacks, and the reader enum has no default (BACKWARD`}},
		{"backward/enum symbol removed, reader has default", Backward, []string{rec(fID, fVacc3)}, rec(fID, fVacc2Def), nil},
		{"forward/enum symbol added", Forward, []string{rec(fID, fVacc2)}, rec(fID, fVacc3), []string{`has symbols ["HPV"]`, "(FORWARD"}},
		{"full/enum symbol added", Full, []string{rec(fID, fVacc2)}, rec(fID, fVacc3), []string{`has symbols ["HPV"]`}},
		// Unions.
		{"backward/union widened", Backward, []string{rec(fID, fPhone2)}, rec(fID, fPhone3), nil},
		{"backward/union narrowed", Backward, []string{rec(fID, fPhone3)}, rec(fID, fPhone2),
			[]string{`field "phone" (record health.Immunisation): writer union branch "long" matches no branch of reader type "union[null, string]"`}},
		{"forward/union widened", Forward, []string{rec(fID, fPhone2)}, rec(fID, fPhone3), []string{`writer union branch "long" matches no branch`}},
		{"backward/type to union holding it", Backward, []string{rec(fID, fPhoneStr)}, rec(fID, fPhone2), nil},
		{"backward/union to one of its branches", Backward, []string{rec(fID, fPhone2)}, rec(fID, fPhoneStr),
			[]string{`writer union branch "null" cannot be read as reader type "string"`}},
		// Renames.
		{"backward/record renamed with alias", Backward, []string{v1}, recNamed("Vaccination", `"health.Immunisation"`, fID, fAgeInt), nil},
		{"backward/record renamed without alias", Backward, []string{v1}, recNamed("Vaccination", "", fID, fAgeInt),
			[]string{`schema root: writer type "record health.Immunisation" cannot be read as reader type "record health.Vaccination": names differ and the reader has no alias "health.Immunisation"`}},
		{"backward/field renamed with alias", Backward, []string{v1}, rec(fID, `{"name":"age_years","aliases":["age"],"type":"int"}`), nil},
		{"backward/field renamed without alias", Backward, []string{v1}, rec(fID, `{"name":"age_years","type":"int"}`), []string{`field "age_years"`}},
		// Nested records, arrays, maps, fixed.
		{"backward/nested int to long", Backward, []string{rec(fID, fClinic)}, rec(fID, fClinicL), nil},
		{"backward/nested int to string", Backward, []string{rec(fID, fClinic)}, rec(fID, fClinicS),
			[]string{`field "clinic.region" (record health.Clinic): writer type "int" cannot be read as reader type "string"`}},
		{"backward/array items narrowed", Backward, []string{rec(`{"name":"doses","type":{"type":"array","items":"long"}}`)}, rec(`{"name":"doses","type":{"type":"array","items":"int"}}`),
			[]string{`field "doses[]" (record health.Immunisation): writer type "long" cannot be read as reader type "int"`}},
		{"backward/map values widened", Backward, []string{rec(`{"name":"attrs","type":{"type":"map","values":"int"}}`)}, rec(`{"name":"attrs","type":{"type":"map","values":"long"}}`), nil},
		{"backward/fixed resized", Backward, []string{rec(`{"name":"h","type":{"type":"fixed","name":"Hash","size":16}}`)}, rec(`{"name":"h","type":{"type":"fixed","name":"Hash","size":32}}`),
			[]string{`writer type "fixed health.Hash(16)" has size 16, reader type "fixed health.Hash(32)" has size 32`}},
		{"backward/type changed at root", Backward, []string{`"string"`}, `"int"`, []string{`schema root: writer type "string" cannot be read as reader type "int"`}},
		// Transitive against non-transitive: v1 {id}, v2 {id, dose=1}, candidate {id, dose} without default.
		{"backward/checks latest only", Backward, []string{rec(fID), rec(fID, fDoseDef)}, rec(fID, fDose), nil},
		{"backward_transitive/checks every version", BackwardTransitive, []string{rec(fID), rec(fID, fDoseDef)}, rec(fID, fDose),
			[]string{`field "dose_number" (record health.Immunisation): reader field has no default`, "(BACKWARD_TRANSITIVE: new schema must read data written with version 1)"}},
		// v1 {id, dose}, v2 {id, dose=1}, candidate {id}: v2 can read it, v1 cannot.
		{"forward/checks latest only", Forward, []string{rec(fID, fDose), rec(fID, fDoseDef)}, rec(fID), nil},
		{"forward_transitive/checks every version", ForwardTransitive, []string{rec(fID, fDose), rec(fID, fDoseDef)}, rec(fID),
			[]string{"(FORWARD_TRANSITIVE: version 1 must read data written with the new schema)"}},
		{"full/checks latest only", Full, []string{rec(fID, fDose), rec(fID, fDoseDef)}, rec(fID), nil},
		{"full_transitive/checks every version", FullTransitive, []string{rec(fID, fDose), rec(fID, fDoseDef)}, rec(fID),
			[]string{"(FULL_TRANSITIVE: version 1 must read data written with the new schema)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := evolve(t, tc.level, tc.history, tc.candidate)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want compatible, got %v", err)
				}
				return
			}
			var ie *IncompatibleError
			if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) {
				t.Fatalf("want *IncompatibleError, got %v", err)
			}
			all := strings.Join(ie.Messages, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("messages lack %q; got:\n%s", w, all)
				}
			}
		})
	}
}

// TestDefaultLevelIsBackward: without any config a field added without a
// default is refused.
func TestDefaultLevelIsBackward(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	if _, err := r.Register(ctx, "s", rec(fID)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, "s", rec(fID, fDose)); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("want incompatible under the default level, got %v", err)
	}
	lvl, err := r.Config(ctx, "s")
	if err != nil || lvl != Backward {
		t.Fatalf("Config = %q, %v; want BACKWARD", lvl, err)
	}
}

// TestSoftDeletedVersionsAreNotChecked: like Confluent, a soft-deleted
// version no longer constrains new registrations.
func TestSoftDeletedVersionsAreNotChecked(t *testing.T) {
	ctx := context.Background()
	r := quietRegistry()
	if _, err := r.Register(ctx, "s", rec(fID, fAgeLong)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeleteVersion(ctx, "s", 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, "s", rec(fID, fAgeInt)); err != nil {
		t.Fatalf("after soft delete: %v", err)
	}
	vs, err := r.listVersions(ctx, "s", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(len(vs), vs[1].Version, vs[0].Deleted); got != "2 2 true" {
		t.Fatalf("versions = %s, want 2 versions, the new one numbered 2", got)
	}
}

func TestIncompatibilities(t *testing.T) {
	w, _ := ParseSchema(rec(fID, fAgeLong))
	rd, _ := ParseSchema(rec(fID, fAgeInt))
	msgs := incompatibilities(w, rd, "")
	if len(msgs) != 1 || msgs[0] != `field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int"` {
		t.Fatalf("incompatibilities = %q", msgs)
	}
	if msgs := incompatibilities(rd, w, ""); len(msgs) != 0 {
		t.Fatalf("int→long should resolve, got %q", msgs)
	}
}
