package policy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

const examplesDir = "../deploy/examples"

// exampleInput loads deploy/examples (the files the dev mode loads) with
// their schemas, one version per subject (ids 1.. in subject order).
func exampleInput(t testing.TB) Input {
	t.Helper()
	set, err := agreements.LoadDir(examplesDir)
	if err != nil {
		t.Fatalf("loading %s: %v", examplesDir, err)
	}
	if probs := agreements.Validate(set); len(probs) > 0 {
		t.Fatalf("agreements.Validate(%s): %v", examplesDir, probs)
	}
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.avsc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in %s: %v", examplesDir, err)
	}
	sort.Strings(files)
	in := Input{
		Agencies: set.Agencies, Contracts: set.Contracts, Agreements: set.Agreements,
		PseudonymKey: testKey, SubjectKey: []byte("subject-key"), Version: "examples",
	}
	for i, f := range files {
		in.Schemas = append(in.Schemas, schemas.SchemaVersion{
			ID: i + 1, Subject: strings.TrimSuffix(filepath.Base(f), ".avsc"), Version: 1, Avro: mustSchema(t, f),
		})
	}
	return in
}

func exampleSchemaID(in Input, subject string) int {
	for _, s := range in.Schemas {
		if s.Subject == subject {
			return s.ID
		}
	}
	return 0
}

func TestExamplesCompile(t *testing.T) {
	in := exampleInput(t)
	if probs := Check(in); len(probs) > 0 {
		t.Fatalf("Check(deploy/examples): %v", probs)
	}
	p := mustCompile(t, in)
	if got := len(p.DerivedSubjects()); got != len(in.Agreements) {
		t.Errorf("%d derived subjects for %d agreements", got, len(in.Agreements))
	}
	if got := len(p.Datasets()); got != len(in.Contracts) {
		t.Errorf("%d datasets for %d contracts", got, len(in.Contracts))
	}
	// The immunisations contract says the key is record_id: social-services
	// keeps it and may receive the key as is; statistics does not.
	for id, want := range map[string]bool{"health-to-social-2026-001": true, "health-to-statistics-2026-002": false} {
		if a, ok := p.Agreement(id); !ok || a.KeyKept != want {
			t.Errorf("%s: KeyKept %v, want %v", id, a.KeyKept, want)
		}
	}
}

// TestExampleRecords runs the sample immunisation records through the
// example plan: each is decided (delivered, skipped by the pilot-region
// filter, or quarantined with a catalogued reason) and deliveries decode
// under their derived schemas.
func TestExampleRecords(t *testing.T) {
	in := exampleInput(t)
	p := mustCompile(t, in)
	schema := mustSchema(t, filepath.Join(examplesDir, "ingress.health.immunisations-value.avsc"))
	id := exampleSchemaID(in, "ingress.health.immunisations-value")
	recs := exampleRecords(t, schema, "health.immunisations")
	delivered := 0
	for i, m := range recs {
		at := m["administered_at"].(time.Time)
		body := encodeRec(t, schema, m)
		d := p.Evaluate(Record{Dataset: "health.immunisations", SchemaID: id, Body: body}, at.Add(time.Minute))
		if d.Quarantined {
			for _, r := range d.Reasons {
				if !strings.HasPrefix(r.Code, "quality:") {
					t.Errorf("record %d quarantined with %s: %s", i, r.Code, r.Detail)
				}
			}
			continue
		}
		infos := p.Agreements("health.immunisations")
		for j, o := range d.Outcomes {
			if o.Delivered {
				delivered++
				got := decodeDelivered(t, infos[j], o.Value)
				if _, leaked := got["practitioner_id"]; leaked {
					t.Errorf("record %d: %s received a field outside its allow-list", i, o.AgreementID)
				}
			}
		}
	}
	if delivered == 0 {
		t.Error("no example record was delivered to any agreement")
	}
}

// exampleRecords reads records/<dataset>.jsonl into values hamba encodes.
func exampleRecords(t testing.TB, schema avro.Schema, dataset string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(examplesDir, "records", dataset+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			// The sample file may hold deliberately broken lines (the demo
			// publishes them to show quarantine); they are not records.
			if _, isTest := t.(*testing.T); isTest {
				t.Logf("%s line %d skipped: %v", dataset, line, err)
			}
			continue
		}
		v, err := fromJSON(schema, m)
		if err != nil {
			t.Fatalf("%s line %d: %v", dataset, line, err)
		}
		out = append(out, v.(map[string]any))
	}
	return out
}

// fromJSON converts a decoded JSON value to what hamba encodes under s.
func fromJSON(s avro.Schema, v any) (any, error) {
	s = deref(s)
	switch s.Type() {
	case avro.Union:
		if v == nil {
			return nil, nil
		}
		for _, b := range s.(*avro.UnionSchema).Types() {
			if deref(b).Type() != avro.Null {
				return fromJSON(b, v)
			}
		}
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want an object, got %T", v)
		}
		out := map[string]any{}
		for _, f := range s.(*avro.RecordSchema).Fields() {
			x, err := fromJSON(f.Type(), m[f.Name()])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
			out[f.Name()] = x
		}
		return out, nil
	case avro.Int, avro.Long:
		switch logicalOf(s) {
		case avro.Date:
			return time.Parse("2006-01-02", v.(string))
		case avro.TimestampMillis, avro.TimestampMicros:
			return time.Parse(time.RFC3339Nano, v.(string))
		}
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("want a number, got %T", v)
		}
		if s.Type() == avro.Int {
			return int(f), nil
		}
		return int64(f), nil
	case avro.Float:
		return float32(v.(float64)), nil
	}
	return v, nil
}
