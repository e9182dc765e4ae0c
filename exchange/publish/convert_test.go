package publish

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/schemas/registryhttp"
	"github.com/hamba/avro/v2"
)

// fieldSchema wraps one field type in a record, so each case reads like a
// line of a real dataset: {"f": <value>}.
func fieldSchema(t *testing.T, fieldType string) avro.Schema {
	t.Helper()
	text := `{"type":"record","name":"R","namespace":"t","fields":[{"name":"f","type":` + fieldType + `}]}`
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("schema %s: %v", fieldType, err)
	}
	return s
}

func decodeJSON(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("test JSON %s: %v", text, err)
	}
	return v
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestConvertValues(t *testing.T) {
	cases := []struct {
		name, typ, value string
		want             any
	}{
		{"null", `"null"`, `null`, nil},
		{"boolean", `"boolean"`, `true`, true},
		{"int", `"int"`, `42`, int32(42)},
		{"int negative", `"int"`, `-2147483648`, int32(math.MinInt32)},
		{"int written as float", `"int"`, `12.0`, int32(12)},
		{"int exponent", `"int"`, `1e3`, int32(1000)},
		{"long without float loss", `"long"`, `9007199254740993`, int64(9007199254740993)},
		{"long max", `"long"`, `9223372036854775807`, int64(math.MaxInt64)},
		{"float", `"float"`, `1.5`, float32(1.5)},
		{"double", `"double"`, `0.1`, 0.1},
		{"double integer", `"double"`, `3`, 3.0},
		{"double Infinity", `"double"`, `"Infinity"`, math.Inf(1)},
		{"string", `"string"`, `"héllo"`, "héllo"},
		{"bytes", `"bytes"`, `"\u0000\u00ffA"`, []byte{0, 255, 'A'}},
		{"enum", `{"type":"enum","name":"S","symbols":["ON","OFF"]}`, `"OFF"`, "OFF"},
		{"array", `{"type":"array","items":"int"}`, `[1,2,3]`, []any{int32(1), int32(2), int32(3)}},
		{"map", `{"type":"map","values":"long"}`, `{"a":1}`, map[string]any{"a": int64(1)}},
		{"fixed", `{"type":"fixed","name":"F","size":3}`, `"abc"`, [3]byte{'a', 'b', 'c'}},
		{"nested record", `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`, `{"city":"Oslo"}`,
			map[string]any{"city": "Oslo"}},
		{"record default left to the encoder", `{"type":"record","name":"A","fields":[{"name":"n","type":"int","default":7}]}`, `{}`,
			map[string]any{}},
		{"record field by alias", `{"type":"record","name":"A","fields":[{"name":"n","type":"int","aliases":["old_n"]}]}`, `{"old_n":1}`,
			map[string]any{"n": int32(1)}},
		{"union null", `["null","string"]`, `null`, map[string]any{"null": nil}},
		{"union plain", `["null","string"]`, `"x"`, map[string]any{"string": "x"}},
		{"union Avro JSON", `["null","string"]`, `{"string":"x"}`, map[string]any{"string": "x"}},
		{"union first fitting branch", `["null","long","string"]`, `"7"`, map[string]any{"string": "7"}},
		{"union long before double", `["null","long","double"]`, `7`, map[string]any{"long": int64(7)}},
		{"union double when not integral", `["null","long","double"]`, `7.5`, map[string]any{"double": 7.5}},
		{"union named record short name", `["null",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}]`, `{"P":{"x":1}}`,
			map[string]any{"t.P": map[string]any{"x": int32(1)}}},
		{"union record plain", `["null",{"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}]`, `{"x":1}`,
			map[string]any{"t.P": map[string]any{"x": int32(1)}}},
		{"union logical branch", `["null",{"type":"long","logicalType":"timestamp-millis"}]`, `"2024-05-01T10:00:00Z"`,
			map[string]any{"long.timestamp-millis": utc("2024-05-01T10:00:00Z")}},
		{"timestamp-millis RFC 3339", `{"type":"long","logicalType":"timestamp-millis"}`, `"2024-05-01T12:00:00.123+02:00"`,
			utc("2024-05-01T10:00:00.123Z")},
		{"timestamp-millis epoch", `{"type":"long","logicalType":"timestamp-millis"}`, `1714557600123`, utc("2024-05-01T10:00:00.123Z")},
		{"timestamp-micros epoch", `{"type":"long","logicalType":"timestamp-micros"}`, `1714557600123456`, utc("2024-05-01T10:00:00.123456Z")},
		{"local-timestamp-millis", `{"type":"long","logicalType":"local-timestamp-millis"}`, `"2024-05-01T10:00:00Z"`, utc("2024-05-01T10:00:00Z")},
		{"date string", `{"type":"int","logicalType":"date"}`, `"2024-02-29"`, utc("2024-02-29T00:00:00Z")},
		{"date days", `{"type":"int","logicalType":"date"}`, `19782`, utc("2024-02-29T00:00:00Z")},
		{"time-millis string", `{"type":"int","logicalType":"time-millis"}`, `"13:45:30.250"`, 13*time.Hour + 45*time.Minute + 30250*time.Millisecond},
		{"time-millis count", `{"type":"int","logicalType":"time-millis"}`, `1000`, time.Second},
		{"time-micros", `{"type":"long","logicalType":"time-micros"}`, `"00:00:01.000001"`, time.Second + time.Microsecond},
		{"uuid", `{"type":"string","logicalType":"uuid"}`, `"3b241101-e2bb-4255-8caf-4136c566a962"`, "3b241101-e2bb-4255-8caf-4136c566a962"},
		{"decimal number", `{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}`, `1234.5`, big.NewRat(12345, 10)},
		{"decimal string", `{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}`, `"-0.05"`, big.NewRat(-5, 100)},
		{"decimal fixed", `{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":10,"scale":3}`, `"1.001"`, big.NewRat(1001, 1000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fieldSchema(t, c.typ)
			got, err := Convert(s, decodeJSON(t, `{"f":`+c.value+`}`))
			if err != nil {
				t.Fatalf("Convert: %v", err)
			}
			rec := got.(map[string]any)
			fv, present := rec["f"]
			if c.name == "record default left to the encoder" {
				if !reflect.DeepEqual(fv, c.want) {
					t.Fatalf("got %#v, want %#v", fv, c.want)
				}
			} else if !present {
				t.Fatalf("field f missing from %#v", rec)
			}
			if !equalNative(fv, c.want) {
				t.Fatalf("got %#v (%T), want %#v (%T)", fv, fv, c.want, c.want)
			}
			// Whatever Convert returns, hamba/avro must encode, and decode back.
			body, err := avro.Marshal(s, got)
			if err != nil {
				t.Fatalf("avro.Marshal(%#v): %v", got, err)
			}
			var back map[string]any
			if err := avro.Unmarshal(s, body, &back); err != nil {
				t.Fatalf("avro.Unmarshal: %v", err)
			}
		})
	}
}

func equalNative(a, b any) bool {
	if ra, ok := a.(*big.Rat); ok {
		rb, ok := b.(*big.Rat)
		return ok && ra.Cmp(rb) == 0
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	if fa, ok := a.(float64); ok && math.IsNaN(fa) {
		fb, ok := b.(float64)
		return ok && math.IsNaN(fb)
	}
	return reflect.DeepEqual(a, b)
}

func TestConvertNaN(t *testing.T) {
	got, err := Convert(fieldSchema(t, `"double"`), decodeJSON(t, `{"f":"NaN"}`))
	if err != nil {
		t.Fatal(err)
	}
	if f := got.(map[string]any)["f"].(float64); !math.IsNaN(f) {
		t.Fatalf("got %v, want NaN", f)
	}
}

func TestConvertErrors(t *testing.T) {
	cases := []struct {
		name, typ, value, want string
	}{
		{"int from string", `"int"`, `"abc"`, `field "f": expected int, got string "abc"`},
		{"int from fraction", `"int"`, `3.5`, `field "f": expected int, got number 3.5`},
		{"int out of range", `"int"`, `2147483648`, `field "f": expected int, got number 2147483648 (out of range)`},
		{"int float out of range", `"int"`, `3e10`, `field "f": expected int, got number 3e10 (out of range)`},
		{"long out of range", `"long"`, `9223372036854775808`, `field "f": expected long, got number 9223372036854775808 (out of range)`},
		{"long from bool", `"long"`, `true`, `field "f": expected long, got boolean true`},
		{"float from string", `"float"`, `"1.5"`, `field "f": expected float, got string "1.5"`},
		{"float out of range", `"float"`, `1e40`, `field "f": expected float, got number 1e40 (out of range)`},
		{"double from null", `"double"`, `null`, `field "f": expected double, got null`},
		{"boolean from string", `"boolean"`, `"true"`, `field "f": expected boolean, got string "true"`},
		{"string from number", `"string"`, `12`, `field "f": expected string, got number 12`},
		{"string from object", `"string"`, `{"a":1}`, `field "f": expected string, got object`},
		{"null from string", `"null"`, `"x"`, `field "f": expected null, got string "x"`},
		{"bytes from number", `"bytes"`, `1`, `field "f": expected bytes (string), got number 1`},
		{"bytes code point", `"bytes"`, `"a€"`, `field "f": bytes are written as a string of code points 0-255 (Avro JSON), got code point U+20AC at offset 1`},
		{"enum unknown symbol", `{"type":"enum","name":"S","symbols":["ON","OFF"]}`, `"MAYBE"`,
			`field "f": expected one of the S symbols [ON, OFF], got string "MAYBE"`},
		{"enum from number", `{"type":"enum","name":"S","symbols":["ON","OFF"]}`, `1`, `field "f": expected enum S, got number 1`},
		{"array from object", `{"type":"array","items":"int"}`, `{}`, `field "f": expected array, got object`},
		{"array element", `{"type":"array","items":"int"}`, `[1,"x"]`, `field "f[1]": expected int, got string "x"`},
		{"map from array", `{"type":"map","values":"int"}`, `[1]`, `field "f": expected map (JSON object), got array of 1`},
		{"map value", `{"type":"map","values":"int"}`, `{"k":"v"}`, `field "f.k": expected int, got string "v"`},
		{"fixed size", `{"type":"fixed","name":"F","size":3}`, `"ab"`, `field "f": expected fixed F of 3 bytes, got 2 bytes`},
		{"fixed type", `{"type":"fixed","name":"F","size":3}`, `3`, `field "f": expected fixed F (string of 3 bytes), got number 3`},
		{"nested field", `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`, `{"city":1}`,
			`field "f.city": expected string, got number 1`},
		{"nested missing", `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`, `{}`,
			`field "f.city": missing, and the schema gives no default`},
		{"nested unknown", `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`, `{"city":"x","zip":1}`,
			`field "f.zip": not in the schema of record t.A`},
		{"record from string", `{"type":"record","name":"A","fields":[{"name":"city","type":"string"}]}`, `"x"`,
			`field "f": expected record A (JSON object), got string "x"`},
		{"nullable union wrong type", `["null","int"]`, `"abc"`, `field "f": expected int, got string "abc"`},
		{"union without null given null", `["int","string"]`, `null`, `field "f": expected one of the union branches [int, string], got null`},
		{"union no branch fits", `["null","int","boolean"]`, `"x"`, `field "f": expected one of the union branches [null, int, boolean], got string "x"`},
		{"union Avro JSON wrong inner", `["null","int"]`, `{"int":"x"}`, `field "f": expected int, got string "x"`},
		{"timestamp text", `{"type":"long","logicalType":"timestamp-millis"}`, `"yesterday"`,
			`field "f": expected timestamp-millis (RFC 3339 string or epoch milliseconds), got string "yesterday"`},
		{"timestamp fraction", `{"type":"long","logicalType":"timestamp-millis"}`, `1.5`,
			`field "f": expected timestamp-millis (RFC 3339 string or epoch milliseconds), got number 1.5`},
		{"timestamp bool", `{"type":"long","logicalType":"timestamp-micros"}`, `false`,
			`field "f": expected timestamp-micros (RFC 3339 string or epoch microseconds), got boolean false`},
		{"date text", `{"type":"int","logicalType":"date"}`, `"01/02/2024"`,
			`field "f": expected date (YYYY-MM-DD or days since 1970-01-01), got string "01/02/2024"`},
		{"date bool", `{"type":"int","logicalType":"date"}`, `true`,
			`field "f": expected date (YYYY-MM-DD or days since 1970-01-01), got boolean true`},
		{"time-millis text", `{"type":"int","logicalType":"time-millis"}`, `"25:00"`,
			`field "f": expected time-millis (HH:MM:SS[.fraction] or milliseconds since midnight), got string "25:00"`},
		{"uuid text", `{"type":"string","logicalType":"uuid"}`, `"not-a-uuid"`,
			`field "f": expected uuid (8-4-4-4-12 hex digits), got string "not-a-uuid"`},
		{"decimal scale", `{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}`, `1.234`,
			`field "f": expected decimal(6,2) (JSON number or decimal string), got 1.234 (more than 2 decimal places)`},
		{"decimal precision", `{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}`, `123.45`,
			`field "f": expected decimal(4,2) (JSON number or decimal string), got 123.45 (more than 4 digits)`},
		{"decimal text", `{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}`, `"1/3"`,
			`field "f": expected decimal(4,2) (JSON number or decimal string), got string "1/3"`},
		{"int huge exponent", `"int"`, `1e999999999`, `field "f": expected int, got number 1e999999999 (exponent out of range ±1000)`},
		{"decimal huge exponent", `{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}`, `"1e-999999999"`,
			`field "f": expected decimal(4,2) (JSON number or decimal string), got string "1e-999999999" (exponent out of range ±1000)`},
		{"long string cut", `"int"`, `"` + strings.Repeat("x", 50) + `"`,
			`field "f": expected int, got string "` + strings.Repeat("x", 40) + `…"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Convert(fieldSchema(t, c.typ), decodeJSON(t, `{"f":`+c.value+`}`))
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if err.Error() != c.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, c.want)
			}
		})
	}
}

func TestConvertRecordErrors(t *testing.T) {
	s := fieldSchema(t, `"int"`)
	cases := []struct{ value, want string }{
		{`[1]`, `expected record R (JSON object), got array of 1`},
		{`{}`, `field "f": missing, and the schema gives no default`},
		{`{"f":1,"g":2}`, `field "g": not in the schema of record t.R`},
	}
	for _, c := range cases {
		_, err := Convert(s, decodeJSON(t, c.value))
		if err == nil || err.Error() != c.want {
			t.Errorf("Convert(%s) error = %v, want %q", c.value, err, c.want)
		}
	}
}

const personSchema = `{
  "type": "record", "name": "Person", "namespace": "health",
  "fields": [
    {"name": "record_id", "type": "string"},
    {"name": "age", "type": "int"},
    {"name": "nickname", "type": ["null", "string"], "default": null},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "INACTIVE"]}},
    {"name": "born", "type": {"type": "int", "logicalType": "date"}},
    {"name": "seen_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
      {"name": "city", "type": "string"},
      {"name": "zip", "type": ["null", "int"], "default": null}]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []}
  ]
}`

func TestEncoderFramesAndKeys(t *testing.T) {
	s, err := registryhttp.ParseSchema("ingress.health.people-value", 3, 42, personSchema)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if enc.KeyField() != "record_id" {
		t.Fatalf("default key field = %q, want record_id", enc.KeyField())
	}
	line := `{"record_id":"r-1","age":41,"nickname":{"string":"Bo"},"status":"ACTIVE","born":"1983-04-05",` +
		`"seen_at":1714557600123,"address":{"city":"Oslo"}}`
	key, value, err := enc.Encode([]byte(line))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if string(key) != "r-1" {
		t.Fatalf("key = %q, want r-1", key)
	}
	if !bytes.Equal(value[:5], []byte{0, 0, 0, 0, 42}) {
		t.Fatalf("frame header = % x, want 00 00 00 00 2a", value[:5])
	}
	var got map[string]any
	if err := avro.Unmarshal(s.Avro, value[5:], &got); err != nil {
		t.Fatalf("decoding the body: %v", err)
	}
	want := map[string]any{
		"record_id": "r-1", "age": 41, "nickname": "Bo", "status": "ACTIVE",
		"born": utc("1983-04-05T00:00:00Z"), "seen_at": utc("2024-05-01T10:00:00.123Z"),
		"address": map[string]any{"city": "Oslo", "zip": nil}, "tags": []any{},
	}
	assertPerson(t, got, want)

	// An explicit key field; numbers key by their JSON text.
	enc, err = NewEncoder(s, "age")
	if err != nil {
		t.Fatal(err)
	}
	if key, _, err = enc.Encode([]byte(line)); err != nil || string(key) != "41" {
		t.Fatalf("key by age = %q, %v; want 41", key, err)
	}
	if _, err := NewEncoder(s, "nope"); err == nil || err.Error() != `key field "nope" is not a field of record health.Person (subject "ingress.health.people-value")` {
		t.Fatalf("NewEncoder(nope) error = %v", err)
	}
}

// assertPerson compares decoded records, times by instant.
func assertPerson(t *testing.T, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		if wt, ok := w.(time.Time); ok {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("field %s = %v, want %v", k, g, w)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("field %s = %#v, want %#v", k, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("decoded %d fields, want %d: %#v", len(got), len(want), got)
	}
}

func TestEncoderLineErrors(t *testing.T) {
	s, err := registryhttp.ParseSchema("ingress.health.people-value", 1, 7, personSchema)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ line, want string }{
		{`{"record_id":"r","age":"abc"}`, `field "age": expected int, got string "abc"`},
		{`{"record_id":`, `invalid JSON: unexpected EOF`},
		{`{"a":1} {"b":2}`, `invalid JSON: more than one value on the line`},
		{`[1,2]`, `expected record Person (JSON object), got array of 2`},
		{`{"record_id":{"x":[1]},"age":1,"status":"ACTIVE","born":1,"seen_at":1,"address":{"city":"c"}}`,
			`field "record_id": expected string, got object`},
	}
	for _, c := range cases {
		_, _, err := enc.Encode([]byte(c.line))
		if err == nil || err.Error() != c.want {
			t.Errorf("Encode(%s) error = %v, want %q", c.line, err, c.want)
		}
	}
	// The key field of a valid record must be a scalar.
	enc, _ = NewEncoder(s, "address")
	_, _, err = enc.Encode([]byte(`{"record_id":"r","age":1,"status":"ACTIVE","born":1,"seen_at":1,"address":{"city":"c"}}`))
	if err == nil || err.Error() != `field "address": key field must be a string, number or boolean, got object` {
		t.Errorf("object key error = %v", err)
	}
}

func TestEncoderStampNow(t *testing.T) {
	s, err := registryhttp.ParseSchema("ingress.health.people-value", 3, 42, personSchema)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.StampNow("born", time.Now); err == nil || !strings.Contains(err.Error(), "not a timestamp") {
		t.Fatalf("stamping a date field: %v, want a refusal", err)
	}
	if err := enc.StampNow("nope", time.Now); err == nil || !strings.Contains(err.Error(), "not a field") {
		t.Fatalf("stamping a missing field: %v, want a refusal", err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 123_000_000, time.UTC)
	if err := enc.StampNow("seen_at", func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	line := `{"record_id":"r-1","age":41,"nickname":null,"status":"ACTIVE","born":"1983-04-05",` +
		`"seen_at":"2020-01-01T00:00:00Z","address":{"city":"Oslo"}}`
	_, value, err := enc.Encode([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := avro.Unmarshal(s.Avro, value[5:], &got); err != nil {
		t.Fatal(err)
	}
	if at, _ := got["seen_at"].(time.Time); !at.Equal(now) {
		t.Fatalf("seen_at = %v, want the publish time %v", got["seen_at"], now)
	}
}
