package publish

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// roundTrip encodes line under s, decodes the frame as a reader would and
// turns it back into JSON with ToJSON; that JSON must encode to the same bytes.
func roundTrip(t *testing.T, s *schemas.SchemaVersion, line string) string {
	t.Helper()
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	_, framed, err := enc.Encode([]byte(line))
	if err != nil {
		t.Fatalf("encoding %s: %v", line, err)
	}
	id, body, err := schemas.ParseFrame(framed)
	if err != nil || id != s.ID {
		t.Fatalf("frame: id %d, %v", id, err)
	}
	var native any
	if err := avro.Unmarshal(s.Avro, body, &native); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(ToJSON(s.Avro, native))
	if err != nil {
		t.Fatalf("marshalling %#v: %v", native, err)
	}
	_, again, err := enc.Encode(out)
	if err != nil {
		t.Fatalf("the JSON of a decoded record does not encode again: %s: %v", out, err)
	}
	if !bytes.Equal(framed, again) {
		t.Fatalf("round trip changed the record:\nin  %s\nout %s", line, out)
	}
	return string(out)
}

// TestToJSONRoundTripsTheSampleRecords: what a consumer prints of a sample
// record is a line the publisher reads back to the same bytes.
func TestToJSONRoundTripsTheSampleRecords(t *testing.T) {
	text, err := os.ReadFile("../../deploy/examples/ingress.health.immunisations-value.avsc")
	if err != nil {
		t.Fatal(err)
	}
	s, err := registryhttp.ParseSchema("ingress.health.immunisations-value", 1, 3, string(text))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("../../deploy/examples/records/health.immunisations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		roundTrip(t, s, sc.Text())
		n++
	}
	if n == 0 {
		t.Fatal("no sample records")
	}
}

func TestToJSONLogicalAndUnionTypes(t *testing.T) {
	text := `{"type":"record","name":"R","namespace":"t","fields":[
	  {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	  {"name":"midnight","type":{"type":"long","logicalType":"timestamp-micros"}},
	  {"name":"d","type":{"type":"int","logicalType":"date"}},
	  {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
	  {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
	  {"name":"raw","type":"bytes"},
	  {"name":"fx","type":{"type":"fixed","name":"F","size":3}},
	  {"name":"maybe","type":["null","string"]},
	  {"name":"either","type":["null","long","string"]},
	  {"name":"inner","type":["null",{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]}]},
	  {"name":"tags","type":{"type":"array","items":"string"}},
	  {"name":"counts","type":{"type":"map","values":"long"}},
	  {"name":"colour","type":{"type":"enum","name":"Colour","symbols":["RED","GREEN"]}},
	  {"name":"ratio","type":"double"}]}`
	s, err := registryhttp.ParseSchema("t-value", 1, 9, text)
	if err != nil {
		t.Fatal(err)
	}
	in := `{"ts":"2026-11-26T13:59:00.123Z","midnight":"2026-11-26T00:00:00Z","d":"2026-11-26","tod":"13:59:01.5",` +
		`"amount":"12.30","raw":"a\u00ffb","fx":"xyz","maybe":null,"either":"seven","inner":{"x":4},` +
		`"tags":["a","b"],"counts":{"k":2},"colour":"GREEN","ratio":0.25}`
	got := roundTrip(t, s, in)
	want := `{"amount":"12.30","colour":"GREEN","counts":{"k":2},"d":"2026-11-26","either":"seven","fx":"xyz","inner":{"x":4},` +
		`"maybe":null,"midnight":"2026-11-26T00:00:00Z","ratio":0.25,"raw":"a\u00ffb","tags":["a","b"],"tod":"13:59:01.5","ts":"2026-11-26T13:59:00.123Z"}`
	var a, b any
	json.Unmarshal([]byte(got), &a)
	json.Unmarshal([]byte(want), &b)
	if ga, _ := json.Marshal(a); string(ga) != mustMarshal(b) {
		t.Errorf("ToJSON\n got %s\nwant %s", got, want)
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
