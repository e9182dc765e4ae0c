package gen

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

const testSchema = `{"type":"record","name":"Immunisation","namespace":"health","fields":[
 {"name":"record_id","type":"string"},
 {"name":"citizen_id","type":"string"},
 {"name":"age","type":"int"},
 {"name":"region","type":"string"},
 {"name":"phone","type":["null","string"],"default":null},
 {"name":"outcome","type":["null",{"type":"enum","name":"Outcome","symbols":["OK","REFUSED"]}],"default":null},
 {"name":"reviewed_on","type":["null",{"type":"int","logicalType":"date"}],"default":null},
 {"name":"vaccine","type":{"type":"enum","name":"Vaccine","symbols":["MMR","DTAP"]}},
 {"name":"administered_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"clinic","type":{"type":"record","name":"Clinic","fields":[{"name":"id","type":"string"},{"name":"beds","type":"long"}]}}
]}`

func TestGeneratedRecordsDecodeAndKindsMatchMix(t *testing.T) {
	s := avro.MustParse(testSchema)
	g, err := New(s, 7, EventTime("administered_at"), Mix(0.1, 0.05, 0.05), Seed(1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	counts := map[Kind]int{}
	for i := 0; i < 2000; i++ {
		key, value, kind, err := g.Next(now)
		if err != nil {
			t.Fatal(err)
		}
		counts[kind]++
		if len(key) == 0 {
			t.Fatal("empty key")
		}
		id, body, err := schemas.ParseFrame(value)
		if kind == Malformed && err != nil {
			continue // wrong magic byte
		}
		if err != nil {
			t.Fatalf("record %d (%s): frame: %v", i, kind, err)
		}
		switch kind {
		case UnknownID:
			if id == 7 {
				t.Fatalf("unknown-id record framed with the real id")
			}
			continue
		case Malformed:
			if err := strictDecode(s, body, new(map[string]any)); err == nil {
				t.Fatalf("malformed record %d decodes", i)
			}
			continue
		}
		if id != 7 {
			t.Fatalf("record %d: schema id %d, want 7", i, id)
		}
		var m map[string]any
		if err := strictDecode(s, body, &m); err != nil {
			t.Fatalf("record %d (%s) does not decode: %v", i, kind, err)
		}
		at := m["administered_at"].(time.Time)
		age := now.Sub(at)
		if kind == Stale && age < 24*time.Hour {
			t.Fatalf("stale record only %v old", age)
		}
		if kind == Valid && (age < 0 || age > time.Minute) {
			t.Fatalf("valid record %v old, want under a minute", age)
		}
	}
	for _, k := range []Kind{Valid, Stale, Malformed, UnknownID} {
		if counts[k] == 0 {
			t.Errorf("no %s records in 2000 with the mix set", k)
		}
	}
	if counts[Valid] < 1500 {
		t.Errorf("only %d valid records of 2000 for an 80%% mix", counts[Valid])
	}
}

func TestNewRejectsNonRecord(t *testing.T) {
	if _, err := New(avro.MustParse(`"string"`), 1); err == nil {
		t.Fatal("want an error for a non-record schema")
	}
}

// strictDecode fails on a body that ends early: avro.Unmarshal swallows an
// io.EOF that falls exactly on a field boundary, the Reader does not.
func strictDecode(s avro.Schema, body []byte, v any) error {
	r := avro.NewReader(nil, 0).Reset(body)
	r.ReadVal(s, v)
	return r.Error
}

func TestGeneratesEveryExampleSchema(t *testing.T) {
	paths, _ := filepath.Glob("../../../deploy/examples/*.avsc")
	if len(paths) == 0 {
		t.Fatal("no example schemas found")
	}
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s, err := avro.Parse(string(text))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		g, err := New(s, 1, Seed(2))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i := 0; i < 50; i++ {
			_, value, _, err := g.Next(time.Now())
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			_, body, _ := schemas.ParseFrame(value)
			if err := strictDecode(s, body, new(map[string]any)); err != nil {
				t.Fatalf("%s: record %d does not decode: %v", p, i, err)
			}
		}
	}
}
