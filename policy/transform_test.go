package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

// Every transform on every type it accepts (end to end: encode under a
// one-field schema, Evaluate, decode the delivery) and its refusal on every
// type it does not.

var typeJSONs = map[string]string{
	"boolean":          `"boolean"`,
	"int":              `"int"`,
	"long":             `"long"`,
	"float":            `"float"`,
	"double":           `"double"`,
	"string":           `"string"`,
	"bytes":            `"bytes"`,
	"fixed":            `{"type":"fixed","name":"F4","size":4}`,
	"enum":             `{"type":"enum","name":"Colour","symbols":["RED","GREEN"]}`,
	"date":             `{"type":"int","logicalType":"date"}`,
	"timestamp-millis": `{"type":"long","logicalType":"timestamp-millis"}`,
	"timestamp-micros": `{"type":"long","logicalType":"timestamp-micros"}`,
	"uuid":             `{"type":"string","logicalType":"uuid"}`,
	"decimal":          `{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}`,
	"record":           `{"type":"record","name":"Inner","fields":[{"name":"a","type":"string"}]}`,
	"array":            `{"type":"array","items":"long"}`,
	"map":              `{"type":"map","values":"string"}`,
	"nullable-string":  `["null","string"]`,
	"string-or-long":   `["string","long"]`,
}

// sampleValues are the inputs (as hamba encodes them) per type.
var sampleValues = map[string]any{
	"boolean":          true,
	"int":              -17,
	"long":             int64(1234567),
	"float":            float32(12.5),
	"double":           -7.25,
	"string":           "Ångström-42",
	"bytes":            []byte{1, 2, 3},
	"fixed":            [4]byte{9, 8, 7, 6},
	"enum":             "GREEN",
	"date":             time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
	"timestamp-millis": time.Date(2024, 2, 29, 13, 45, 12, 345e6, time.UTC),
	"timestamp-micros": time.Date(2024, 2, 29, 13, 45, 12, 345678e3, time.UTC),
	"uuid":             "5f2b1c3e-8d4a-4f6b-9c1d-2e3f4a5b6c7d",
	"decimal":          big.NewRat(12345, 100),
	"record":           map[string]any{"a": "x"},
	"array":            []any{int64(1), int64(2)},
	"map":              map[string]any{"k": "v"},
	"nullable-string":  "Ångström-42",
	"string-or-long":   "s",
}

func oneFieldInput(t testing.TB, typ string, tr agreements.Transform, class agreements.Classification) Input {
	t.Helper()
	s, err := parseSchema(fmt.Sprintf(`{"type":"record","name":"One","fields":[{"name":"f","type":%s}]}`, typeJSONs[typ]))
	if err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return Input{
		Contracts: []agreements.DataContract{{
			Dataset: "test.one", Owner: "test", Subject: "ingress.test.one-value",
			Fields: []agreements.FieldClass{{Name: "f", Class: class}},
		}},
		Agreements: []agreements.Agreement{{
			ID: "one", Provider: "test.one", Consumer: "stats", Status: agreements.StatusActive,
			Fields: []agreements.FieldRule{{Name: "f", Transform: tr}},
		}},
		Schemas:      []schemas.SchemaVersion{{ID: 1, Subject: "ingress.test.one-value", Version: 1, Avro: s}},
		PseudonymKey: testKey,
	}
}

// applyTransform runs one value through a compiled one-field plan and
// returns the delivered value of f.
func applyTransform(t *testing.T, typ string, tr agreements.Transform, in any) any {
	t.Helper()
	input := oneFieldInput(t, typ, tr, agreements.Public)
	p := mustCompile(t, input)
	body := encodeRec(t, input.Schemas[0].Avro, map[string]any{"f": in})
	d := p.Evaluate(Record{Dataset: "test.one", SchemaID: 1, Body: body}, testNow)
	if d.Quarantined || len(d.Outcomes) != 1 || !d.Outcomes[0].Delivered {
		t.Fatalf("not delivered: %+v", d)
	}
	return decodeDelivered(t, p.Agreements("test.one")[0], d.Outcomes[0].Value)["f"]
}

func tr(kind agreements.TransformKind) agreements.Transform { return agreements.Transform{Kind: kind} }

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestTransformsOnAcceptedTypes(t *testing.T) {
	key := testKey("one")
	cases := []struct {
		typ  string
		tr   agreements.Transform
		in   any
		want any
	}{
		// keep: every type, unchanged.
		{"boolean", tr(agreements.Keep), true, true},
		{"int", tr(agreements.Keep), -17, -17},
		{"long", tr(agreements.Keep), int64(5), int64(5)},
		{"float", tr(agreements.Keep), float32(1.5), float32(1.5)},
		{"double", tr(agreements.Keep), 2.25, 2.25},
		{"string", tr(agreements.Keep), "abc", "abc"},
		{"bytes", tr(agreements.Keep), []byte{1, 2}, []byte{1, 2}},
		{"fixed", tr(agreements.Keep), [4]byte{1, 2, 3, 4}, [4]byte{1, 2, 3, 4}},
		{"enum", tr(agreements.Keep), "GREEN", "GREEN"},
		{"date", tr(agreements.Keep), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"timestamp-millis", tr(agreements.Keep), sampleValues["timestamp-millis"], sampleValues["timestamp-millis"]},
		{"record", tr(agreements.Keep), map[string]any{"a": "x"}, map[string]any{"a": "x"}},
		{"array", tr(agreements.Keep), []any{int64(1), int64(2)}, []any{int64(1), int64(2)}},
		{"map", tr(agreements.Keep), map[string]any{"k": "v"}, map[string]any{"k": "v"}},
		{"nullable-string", tr(agreements.Keep), "x", "x"},
		{"nullable-string", tr(agreements.Keep), nil, nil},
		{"string-or-long", tr(agreements.Keep), "s", "s"},
		// redact: every type becomes null.
		{"string", tr(agreements.Redact), "secret", nil},
		{"int", tr(agreements.Redact), 3, nil},
		{"record", tr(agreements.Redact), map[string]any{"a": "x"}, nil},
		{"nullable-string", tr(agreements.Redact), "x", nil},
		{"string-or-long", tr(agreements.Redact), "s", nil},
		// pseudonymize: keyed HMAC-SHA256, hex.
		{"string", tr(agreements.Pseudonymize), "19850412-1234", hmacHex(key, "19850412-1234")},
		{"int", tr(agreements.Pseudonymize), 42, hmacHex(key, "42")},
		{"long", tr(agreements.Pseudonymize), int64(-42), hmacHex(key, "-42")},
		{"bytes", tr(agreements.Pseudonymize), []byte("ab"), hmacHex(key, "ab")},
		{"fixed", tr(agreements.Pseudonymize), [4]byte{'a', 'b', 'c', 'd'}, hmacHex(key, "abcd")},
		{"uuid", tr(agreements.Pseudonymize), sampleValues["uuid"], hmacHex(key, sampleValues["uuid"].(string))},
		{"nullable-string", tr(agreements.Pseudonymize), "x", hmacHex(key, "x")},
		{"nullable-string", tr(agreements.Pseudonymize), nil, nil},
		// hash: unkeyed SHA-256, hex.
		{"string", tr(agreements.Hash), "J07BX03", sha256Hex("J07BX03")},
		{"int", tr(agreements.Hash), 7, sha256Hex("7")},
		{"long", tr(agreements.Hash), int64(7), sha256Hex("7")},
		{"bytes", tr(agreements.Hash), []byte("z"), sha256Hex("z")},
		{"fixed", tr(agreements.Hash), [4]byte{'w', 'x', 'y', 'z'}, sha256Hex("wxyz")},
		{"nullable-string", tr(agreements.Hash), nil, nil},
		// truncate: runes, not bytes.
		{"string", agreements.Transform{Kind: agreements.Truncate, N: 2}, "11452", "11"},
		{"string", agreements.Transform{Kind: agreements.Truncate, N: 3}, "Ångström", "Ång"},
		{"string", agreements.Transform{Kind: agreements.Truncate, N: 10}, "short", "short"},
		{"uuid", agreements.Transform{Kind: agreements.Truncate, N: 8}, sampleValues["uuid"], "5f2b1c3e"},
		{"nullable-string", agreements.Transform{Kind: agreements.Truncate, N: 1}, "ab", "a"},
		{"nullable-string", agreements.Transform{Kind: agreements.Truncate, N: 1}, nil, nil},
		// mask: all but the last N runes become '*'.
		{"string", agreements.Transform{Kind: agreements.Mask, N: 2}, "+46701234567", "**********67"},
		{"string", agreements.Transform{Kind: agreements.Mask, N: 2}, "Åsa", "*sa"},
		{"string", agreements.Transform{Kind: agreements.Mask, N: 5}, "ab", "ab"},
		{"string", agreements.Transform{Kind: agreements.Mask, N: 0}, "éé", "**"},
		{"nullable-string", agreements.Transform{Kind: agreements.Mask, N: 1}, "xyz", "**z"},
		// generalize by unit.
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "year"}, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "month"}, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "day"}, time.Date(1960, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1960, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "month"}, time.Date(1960, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1960, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"timestamp-millis", agreements.Transform{Kind: agreements.Generalize, Unit: "year"}, sampleValues["timestamp-millis"], time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"timestamp-millis", agreements.Transform{Kind: agreements.Generalize, Unit: "month"}, sampleValues["timestamp-millis"], time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)},
		{"timestamp-millis", agreements.Transform{Kind: agreements.Generalize, Unit: "day"}, sampleValues["timestamp-millis"], time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"timestamp-micros", agreements.Transform{Kind: agreements.Generalize, Unit: "day"}, sampleValues["timestamp-micros"], time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"timestamp-micros", agreements.Transform{Kind: agreements.Generalize, Unit: "month"}, time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC)},
		// generalize by bucket: floor to a multiple, type kept.
		{"int", agreements.Transform{Kind: agreements.Generalize, Bucket: 10}, 47, 40},
		{"int", agreements.Transform{Kind: agreements.Generalize, Bucket: 10}, -17, -20},
		{"int", agreements.Transform{Kind: agreements.Generalize, Bucket: 10}, -20, -20},
		{"long", agreements.Transform{Kind: agreements.Generalize, Bucket: 1000}, int64(1234567), int64(1234000)},
		{"float", agreements.Transform{Kind: agreements.Generalize, Bucket: 0.5}, float32(12.7), float32(12.5)},
		{"double", agreements.Transform{Kind: agreements.Generalize, Bucket: 5}, -7.25, -10.0},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%s/%s%v/%v", tc.typ, tc.tr.Kind, argsOf(tc.tr), tc.in)
		t.Run(name, func(t *testing.T) {
			got := applyTransform(t, tc.typ, tc.tr, tc.in)
			if gt, ok := got.(time.Time); ok {
				got = gt.UTC()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func argsOf(t agreements.Transform) string {
	switch {
	case t.Unit != "":
		return ":" + t.Unit
	case t.Bucket != 0:
		return fmt.Sprintf(":bucket%v", t.Bucket)
	case t.N != 0:
		return fmt.Sprintf(":%d", t.N)
	}
	return ""
}

func TestTransformsRefuseOtherTypes(t *testing.T) {
	accepts := map[string][]string{
		"keep":              nil, // every type
		"redact":            nil,
		"pseudonymize":      {"int", "long", "string", "bytes", "fixed", "uuid", "nullable-string"},
		"hash":              {"int", "long", "string", "bytes", "fixed", "uuid", "nullable-string"},
		"truncate":          {"string", "uuid", "nullable-string"},
		"mask":              {"string", "uuid", "nullable-string"},
		"generalize:month":  {"date", "timestamp-millis", "timestamp-micros"},
		"generalize:bucket": {"int", "long", "float", "double"},
	}
	trOf := map[string]agreements.Transform{
		"keep": tr(agreements.Keep), "redact": tr(agreements.Redact),
		"pseudonymize": tr(agreements.Pseudonymize), "hash": tr(agreements.Hash),
		"truncate": {Kind: agreements.Truncate, N: 2}, "mask": {Kind: agreements.Mask, N: 2},
		"generalize:month":  {Kind: agreements.Generalize, Unit: "month"},
		"generalize:bucket": {Kind: agreements.Generalize, Bucket: 10},
	}
	for name, ok := range accepts {
		for typ := range typeJSONs {
			accepted := ok == nil || contains(ok, typ)
			t.Run(name+"/"+typ, func(t *testing.T) {
				probs := Check(oneFieldInput(t, typ, trOf[name], agreements.Public))
				if accepted && len(probs) != 0 {
					t.Errorf("refused: %v", probs)
				}
				if !accepted {
					if len(probs) != 1 {
						t.Fatalf("want one problem, got %v", probs)
					}
					if !strings.Contains(probs[0].Message, "field f") || probs[0].Hint == "" {
						t.Errorf("problem %q must name the field and carry a hint", probs[0])
					}
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Bad arguments: Compile refuses them; Check leaves those the agreements
// validator reports without a schema to it, and reports the type-dependent one.
func TestTransformArgumentsRefused(t *testing.T) {
	cases := []struct {
		typ         string
		tr          agreements.Transform
		checkReport bool
	}{
		{"string", agreements.Transform{Kind: agreements.Truncate, N: 0}, false},
		{"string", agreements.Transform{Kind: agreements.Mask, N: -1}, false},
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "week"}, false},
		{"date", agreements.Transform{Kind: agreements.Generalize, Unit: "month", Bucket: 3}, false},
		{"int", agreements.Transform{Kind: agreements.Generalize, Bucket: -1}, false},
		{"int", agreements.Transform{Kind: agreements.Generalize}, false},
		{"string", agreements.Transform{Kind: "scramble"}, false},
		{"int", agreements.Transform{Kind: agreements.Generalize, Bucket: 2.5}, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s/%+v", tc.typ, tc.tr), func(t *testing.T) {
			in := oneFieldInput(t, tc.typ, tc.tr, agreements.Public)
			_, err := Compile(in)
			probs, ok := err.(agreements.Problems)
			if !ok || len(probs) != 1 || probs[0].Hint == "" || !strings.Contains(probs[0].Message, "field f") {
				t.Errorf("Compile: want one problem naming field f with a hint, got %v", err)
			}
			if got := Check(in); (len(got) == 1) != tc.checkReport || len(got) > 1 {
				t.Errorf("Check = %v, want reported=%v", got, tc.checkReport)
			}
		})
	}
}

func TestSensitiveFields(t *testing.T) {
	cases := []struct {
		name  string
		class agreements.Classification
		tr    agreements.Transform
		ok    bool
	}{
		{"keep sensitive", agreements.Sensitive, tr(agreements.Keep), false},
		{"hash sensitive", agreements.Sensitive, tr(agreements.Hash), false},
		{"pseudonymize sensitive", agreements.Sensitive, tr(agreements.Pseudonymize), true},
		{"mask sensitive", agreements.Sensitive, agreements.Transform{Kind: agreements.Mask, N: 2}, true},
		{"keep unclassified", "", tr(agreements.Keep), false},
		{"hash unclassified", "", tr(agreements.Hash), false},
		{"keep personal", agreements.Personal, tr(agreements.Keep), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := oneFieldInput(t, "string", tc.tr, tc.class)
			if tc.class == "" {
				in.Contracts[0].Fields = nil
			}
			_, err := Compile(in)
			if (err == nil) != tc.ok {
				t.Errorf("Compile error = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "sensitive") {
				t.Errorf("error %q does not say why", err)
			}
			// The compiler words the rule as agreements.Validate does.
			if p, refused := agreements.SensitiveDelivery("one", agreements.FieldRule{Name: "f", Transform: tc.tr}, agreements.Pos{}); tc.class == agreements.Sensitive && refused &&
				(err == nil || !strings.Contains(err.Error(), p.Message)) {
				t.Errorf("error %v lacks %q", err, p.Message)
			}
		})
	}
}

func TestPseudonymBase64(t *testing.T) {
	in := oneFieldInput(t, "string", tr(agreements.Pseudonymize), agreements.Sensitive)
	p := mustCompile(t, in, WithBase64Pseudonyms())
	d := p.Evaluate(Record{Dataset: "test.one", SchemaID: 1, Body: encodeRec(t, in.Schemas[0].Avro, map[string]any{"f": "x"})}, testNow)
	got := decodeDelivered(t, p.Agreements("test.one")[0], d.Outcomes[0].Value)["f"].(string)
	if len(got) != 43 || strings.ContainsAny(got, "+/=") {
		t.Errorf("base64url pseudonym = %q", got)
	}
}

func TestTransformsRegistry(t *testing.T) {
	want := []string{"generalize", "hash", "keep", "mask", "pseudonymize", "redact", "truncate"}
	if got := Transforms(); !reflect.DeepEqual(got, want) {
		t.Errorf("Transforms() = %v, want %v", got, want)
	}
}

// TestTransformFits: pseudonymize fits identifiers (also nullable ones),
// not dates, doubles or general unions; keep and redact fit anything.
func TestTransformFits(t *testing.T) {
	ps := agreements.Transform{Kind: agreements.Pseudonymize}
	for _, c := range []struct {
		schema string
		t      agreements.Transform
		fits   bool
	}{
		{`"string"`, ps, true},
		{`["null","string"]`, ps, true},
		{`"int"`, ps, true},
		{`{"type":"int","logicalType":"date"}`, ps, false},
		{`"double"`, ps, false},
		{`["string","int"]`, ps, false},
		{`["string","int"]`, agreements.Transform{Kind: agreements.Keep}, true},
		{`"double"`, agreements.Transform{Kind: agreements.Redact}, true},
		{`"string"`, agreements.Transform{Kind: "shred"}, false},
	} {
		err := TransformFits(c.t, avro.MustParse(c.schema))
		if (err == nil) != c.fits {
			t.Errorf("%s on %s: %v, want fits=%v", c.t.Kind, c.schema, err, c.fits)
		}
	}
}
