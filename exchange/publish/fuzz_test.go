package publish

import (
	"context"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// fuzzSchema has a field of every kind the converter handles.
const fuzzSchema = `{"type":"record","name":"All","namespace":"f","fields":[
  {"name":"record_id","type":["null","string"],"default":null},
  {"name":"i","type":"int","default":0},
  {"name":"l","type":"long","default":0},
  {"name":"fl","type":"float","default":0},
  {"name":"d","type":"double","default":0},
  {"name":"b","type":"boolean","default":false},
  {"name":"by","type":"bytes","default":""},
  {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]},"default":"A"},
  {"name":"fx","type":{"type":"fixed","name":"FX","size":2},"default":"ab"},
  {"name":"arr","type":{"type":"array","items":["null","int","string"]},"default":[]},
  {"name":"m","type":{"type":"map","values":"double"},"default":{}},
  {"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null},
  {"name":"tu","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},
  {"name":"dt","type":["null",{"type":"int","logicalType":"date"}],"default":null},
  {"name":"tm","type":["null",{"type":"int","logicalType":"time-millis"}],"default":null},
  {"name":"u","type":["null",{"type":"string","logicalType":"uuid"}],"default":null},
  {"name":"dec","type":["null",{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}],"default":null},
  {"name":"r","type":["null",{"type":"record","name":"In","fields":[{"name":"x","type":"long"}]}],"default":null}
]}`

// FuzzEncode feeds arbitrary lines to the JSON-to-Avro path. It must never
// panic, and whatever Convert accepts hamba/avro must encode (an "avro
// encoding" error is a converter gap) and decode back from the frame.
func FuzzEncode(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"record_id":"r1","i":1,"l":9007199254740993,"fl":1.5,"d":"NaN","b":true,"by":"\u00ff","e":"B","fx":"zz"}`,
		`{"arr":[1,"x",null],"m":{"k":1e300},"ts":"2024-05-01T10:00:00Z","tu":1,"dt":"2024-02-29","tm":"23:59:59.999"}`,
		`{"u":"3b241101-e2bb-4255-8caf-4136c566a962","dec":"1234567.89","r":{"In":{"x":1}}}`,
		`{"record_id":{"string":"x"},"ts":{"long.timestamp-millis":5}}`,
		`{"i":2147483648}`, `{"i":"1"}`, `[1]`, `not json`, `{"dec":1e-400}`, `{"dt":-99999999}`,
	} {
		f.Add(seed)
	}
	s, enc := testEncoder(f, "fuzz-value", 1, fuzzSchema)
	f.Fuzz(func(t *testing.T, line string) {
		_, value, err := enc.Encode([]byte(line))
		if err != nil {
			if strings.HasPrefix(err.Error(), "avro encoding") {
				t.Fatalf("Convert accepted %q but hamba/avro refused it: %v", line, err)
			}
			return
		}
		id, body, err := schemas.ParseFrame(value)
		if err != nil || id != 1 {
			t.Fatalf("frame of %q: id %d, %v", line, id, err)
		}
		var back map[string]any
		if err := avro.Unmarshal(s.Avro, body, &back); err != nil {
			t.Fatalf("decoding what %q encoded to: %v", line, err)
		}
	})
}

// FuzzCSV feeds arbitrary CSV bodies, under a header naming every field of
// fuzzSchema, to Run. It must never panic; every record it publishes must
// decode, and no row may reach hamba/avro in a shape Convert should have
// refused.
func FuzzCSV(f *testing.F) {
	for _, seed := range []string{
		"r1,1,2,1.5,NaN,true,x,B,zz,\"[1,\"\"x\"\",null]\",\"{\"\"k\"\":1}\",2024-05-01T10:00:00Z,1,2024-02-29,23:59:59,,1.25,\"{\"\"x\"\":1}\"\n",
		",,,,,,,,,,,,,,,,,\n",
		"a,b\n", "\"unterminated\n", "x,\"a\"b,c\n", ",,,,,,,,,,,,,,,,,[\n",
	} {
		f.Add(seed)
	}
	s, enc := testEncoder(f, "fuzz-value", 1, fuzzSchema)
	var header []string
	for _, fl := range s.Avro.(*avro.RecordSchema).Fields() {
		header = append(header, fl.Name())
	}
	head := strings.Join(header, ",") + "\n"
	f.Fuzz(func(t *testing.T, body string) {
		w := &recordingWriter{}
		_, err := Run(context.Background(), strings.NewReader(head+body), enc, w, WithFormat(CSV),
			WithLineErrors(func(e *LineError) {
				if strings.Contains(e.Error(), "avro encoding") {
					t.Fatalf("Convert accepted a row of %q but hamba/avro refused it: %v", body, e)
				}
			}))
		if err != nil {
			t.Fatalf("Run on %q: %v", body, err)
		}
		for _, m := range w.got {
			var back map[string]any
			if err := avro.Unmarshal(s.Avro, m.Value[schemas.FrameHeaderSize:], &back); err != nil {
				t.Fatalf("decoding a record of %q: %v", body, err)
			}
		}
	})
}
