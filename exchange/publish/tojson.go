package publish

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
)

// ToJSON turns a value hamba decoded under s (avro.Unmarshal into an any)
// into the plain JSON form Convert reads, so a consumed record reads like
// the line that was published: union values plainly (null or the value),
// timestamps as RFC 3339 strings, dates as YYYY-MM-DD, times of day as
// HH:MM:SS.fraction, decimals as decimal strings, bytes and fixed as Latin-1
// strings, NaN and infinities as strings. The result marshals with
// encoding/json.
func ToJSON(s avro.Schema, v any) any {
	if v == nil {
		return nil
	}
	switch sc := s.(type) {
	case *avro.RefSchema:
		return ToJSON(sc.Schema(), v)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for _, f := range sc.Fields() {
			if fv, ok := m[f.Name()]; ok {
				out[f.Name()] = ToJSON(f.Type(), fv)
			}
		}
		return out
	case *avro.UnionSchema:
		return unionToJSON(sc, v)
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return v
		}
		out := make([]any, len(items))
		for i, x := range items {
			out[i] = ToJSON(sc.Items(), x)
		}
		return out
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[k] = ToJSON(sc.Values(), x)
		}
		return out
	}
	return scalarToJSON(s, v)
}

// unionToJSON unwraps a union value: hamba gives a named branch as
// {"<full name>": value} and other branches plainly.
func unionToJSON(sc *avro.UnionSchema, v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for key, inner := range m {
			for _, t := range sc.Types() {
				if n, ok := t.(avro.NamedSchema); ok && n.FullName() == key {
					return ToJSON(t, inner)
				}
			}
		}
	}
	for _, t := range sc.Types() {
		if t.Type() != avro.Null && fits(t, v) {
			return ToJSON(t, v)
		}
	}
	return scalarToJSON(nil, v)
}

// fits reports whether a decoded Go value is of branch t's kind.
func fits(t avro.Schema, v any) bool {
	if r, ok := t.(*avro.RefSchema); ok {
		t = r.Schema()
	}
	switch v.(type) {
	case map[string]any:
		return t.Type() == avro.Record || t.Type() == avro.Map
	case []any:
		return t.Type() == avro.Array
	case []byte:
		return t.Type() == avro.Bytes || t.Type() == avro.Fixed
	case *big.Rat:
		return t.Type() == avro.Bytes || t.Type() == avro.Fixed
	}
	return true // scalars print the same whatever branch holds them
}

// logicalOf is the logical type of a primitive or fixed schema, nil for none.
func logicalOf(s avro.Schema) avro.LogicalSchema {
	if ls, ok := s.(avro.LogicalTypeSchema); ok {
		return ls.Logical()
	}
	return nil
}

// scalarToJSON writes logical and binary values the way Convert reads them
// (s may be nil: a union value of no known branch).
func scalarToJSON(s avro.Schema, v any) any {
	l := logicalOf(s)
	switch x := v.(type) {
	case time.Time:
		if l != nil && l.Type() == avro.Date {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return time.Time{}.Add(x).Format("15:04:05.999999")
	case *big.Rat:
		scale := 0
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			scale = d.Scale()
		}
		return x.FloatString(scale)
	case []byte:
		return latin1(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return formatFloat(x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return formatFloat(float64(x))
		}
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len()) // a fixed decodes to a byte array
		reflect.Copy(reflect.ValueOf(b), rv)
		return latin1(b)
	}
	return v
}

// latin1 maps each byte to one character, as Convert reads bytes and fixed.
func latin1(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	}
	return "-Infinity"
}
