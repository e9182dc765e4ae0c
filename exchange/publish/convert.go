package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// FieldError is a value that does not fit its schema. Field is the path of
// the value inside the record: "age", "address.city", "tags[2]",
// "attrs.colour"; empty for the record itself.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return fmt.Sprintf("field %q: %s", e.Field, e.Msg)
}

// Convert turns a value decoded from JSON with json.Decoder.UseNumber into
// the native shape hamba/avro encodes for schema s:
//
//	null            nil (JSON null)
//	boolean         bool
//	int, long       int32, int64 from JSON integers (no float detour, range checked)
//	float, double   float32, float64 from JSON numbers, or "NaN", "Infinity", "-Infinity"
//	string          string (uuid: checked 8-4-4-4-12 hex)
//	bytes, fixed    []byte, [N]byte from a string whose code points are 0-255 (Avro JSON)
//	enum            string, one of the symbols
//	array, map      []any, map[string]any
//	record          map[string]any; unknown fields are errors, missing fields take
//	                their default or are errors
//	union           a plain value (the first branch it fits, null for JSON null),
//	                or Avro JSON {"<branch>": value}
//	timestamp-millis/-micros, local-timestamp-*: time.Time from an RFC 3339 string
//	                or epoch milliseconds/microseconds
//	date            time.Time from YYYY-MM-DD or days since the epoch
//	time-millis/-micros: time.Duration from HH:MM:SS[.fraction] or a count
//	decimal         *big.Rat from a JSON number or a decimal string, scale checked
//
// Errors are *FieldError naming the field path and why.
func Convert(s avro.Schema, v any) (any, error) {
	return convert(s, v, "")
}

func convert(s avro.Schema, v any, path string) (any, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch sc := s.(type) {
	case *avro.RecordSchema:
		return convertRecord(sc, v, path)
	case *avro.UnionSchema:
		return convertUnion(sc, v, path)
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "enum "+sc.Name(), v)
		}
		for _, sym := range sc.Symbols() {
			if sym == str {
				return str, nil
			}
		}
		return nil, &FieldError{path, fmt.Sprintf("expected one of the %s symbols [%s], got %s",
			sc.Name(), strings.Join(sc.Symbols(), ", "), describe(v))}
	case *avro.ArraySchema:
		arr, ok := v.([]any)
		if !ok {
			return nil, mismatch(path, "array", v)
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			c, err := convert(sc.Items(), e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case *avro.MapSchema:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, mismatch(path, "map (JSON object)", v)
		}
		out := make(map[string]any, len(obj))
		for k, e := range obj {
			c, err := convert(sc.Values(), e, join(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case *avro.FixedSchema:
		return convertFixed(sc, v, path)
	case *avro.PrimitiveSchema:
		return convertPrimitive(sc, v, path)
	case *avro.NullSchema:
		if v != nil {
			return nil, mismatch(path, "null", v)
		}
		return nil, nil
	}
	return nil, &FieldError{path, fmt.Sprintf("schema type %s is not supported", s.Type())}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func convertRecord(sc *avro.RecordSchema, v any, path string) (any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, mismatch(path, "record "+sc.Name()+" (JSON object)", v)
	}
	out := make(map[string]any, len(sc.Fields()))
	known := make(map[string]struct{}, len(sc.Fields()))
	for _, f := range sc.Fields() {
		known[f.Name()] = struct{}{}
		fv, present := obj[f.Name()]
		if !present {
			for _, alias := range f.Aliases() {
				if av, ok := obj[alias]; ok {
					fv, present = av, true
					known[alias] = struct{}{}
					break
				}
			}
		}
		fp := join(path, f.Name())
		if !present {
			if f.HasDefault() {
				// hamba/avro writes the schema default for an absent key.
				continue
			}
			return nil, &FieldError{fp, "missing, and the schema gives no default"}
		}
		c, err := convert(f.Type(), fv, fp)
		if err != nil {
			return nil, err
		}
		out[f.Name()] = c
	}
	for k := range obj {
		if _, ok := known[k]; !ok {
			return nil, &FieldError{join(path, k), "not in the schema of record " + sc.FullName()}
		}
	}
	return out, nil
}

// branchName is the name hamba/avro resolves a union branch by: the full
// name of a named type, else the type, plus "."+logical type if any.
func branchName(s avro.Schema) string {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(s.Type())
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// branchMatches: the key of Avro JSON {"<branch>": value}. Named types match
// by full or short name; others by type, with or without the logical type.
func branchMatches(s avro.Schema, key string) bool {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return key == n.FullName() || key == n.Name()
	}
	return key == string(s.Type()) || key == branchName(s)
}

func convertUnion(sc *avro.UnionSchema, v any, path string) (any, error) {
	types := sc.Types()
	if v == nil {
		if _, pos := types.Get(string(avro.Null)); pos >= 0 {
			return map[string]any{string(avro.Null): nil}, nil
		}
	}
	// Avro JSON: {"<branch>": value}.
	if obj, ok := v.(map[string]any); ok && len(obj) == 1 {
		for key, inner := range obj {
			for _, t := range types {
				if t.Type() != avro.Null && branchMatches(t, key) {
					c, err := convert(t, inner, path)
					if err != nil {
						return nil, err
					}
					return map[string]any{branchName(t): c}, nil
				}
			}
		}
	}
	// A plain value: the first branch it fits.
	var nonNull []avro.Schema
	for _, t := range types {
		if t.Type() != avro.Null {
			nonNull = append(nonNull, t)
		}
	}
	var firstErr error
	for _, t := range nonNull {
		c, err := convert(t, v, path)
		if err == nil {
			return map[string]any{branchName(t): c}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if len(nonNull) == 1 && v != nil {
		// [null, T]: T's own message is the precise one.
		return nil, firstErr
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = branchName(t)
	}
	return nil, &FieldError{path, fmt.Sprintf("expected one of the union branches [%s], got %s",
		strings.Join(names, ", "), describe(v))}
}

func convertFixed(sc *avro.FixedSchema, v any, path string) (any, error) {
	if l := sc.Logical(); l != nil {
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			return convertDecimal(d, v, path)
		}
		return nil, &FieldError{path, fmt.Sprintf("logical type %s on fixed is not supported", l.Type())}
	}
	str, ok := v.(string)
	if !ok {
		return nil, mismatch(path, fmt.Sprintf("fixed %s (string of %d bytes)", sc.Name(), sc.Size()), v)
	}
	b, err := latin1Bytes(str)
	if err != nil {
		return nil, &FieldError{path, err.Error()}
	}
	if len(b) != sc.Size() {
		return nil, &FieldError{path, fmt.Sprintf("expected fixed %s of %d bytes, got %d bytes", sc.Name(), sc.Size(), len(b))}
	}
	arr := reflect.New(reflect.ArrayOf(sc.Size(), reflect.TypeFor[byte]())).Elem()
	reflect.Copy(arr, reflect.ValueOf(b))
	return arr.Interface(), nil
}

// latin1Bytes decodes Avro JSON bytes: one byte per code point 0-255.
func latin1Bytes(s string) ([]byte, error) {
	b := make([]byte, 0, len(s))
	for i, r := range s {
		if r > 255 {
			return nil, fmt.Errorf("bytes are written as a string of code points 0-255 (Avro JSON), got code point U+%04X at offset %d", r, i)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

func convertPrimitive(sc *avro.PrimitiveSchema, v any, path string) (any, error) {
	if l := sc.Logical(); l != nil {
		return convertLogical(sc, l, v, path)
	}
	switch sc.Type() {
	case avro.Null:
		if v != nil {
			return nil, mismatch(path, "null", v)
		}
		return nil, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, mismatch(path, "boolean", v)
		}
		return b, nil
	case avro.Int:
		n, err := integer(v, 32, "int", path)
		if err != nil {
			return nil, err
		}
		return int32(n), nil
	case avro.Long:
		return integer(v, 64, "long", path)
	case avro.Float:
		f, err := float(v, 32, "float", path)
		if err != nil {
			return nil, err
		}
		return float32(f), nil
	case avro.Double:
		return float(v, 64, "double", path)
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "string", v)
		}
		return str, nil
	case avro.Bytes:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "bytes (string)", v)
		}
		b, err := latin1Bytes(str)
		if err != nil {
			return nil, &FieldError{path, err.Error()}
		}
		return b, nil
	}
	return nil, &FieldError{path, fmt.Sprintf("schema type %s is not supported", sc.Type())}
}

// integer parses a JSON integer of the given bit size without a float detour.
func integer(v any, bits int, want, path string) (int64, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, mismatch(path, want, v)
	}
	n, err := strconv.ParseInt(num.String(), 10, bits)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, &FieldError{path, fmt.Sprintf("expected %s, got number %s (out of range)", want, num)}
	}
	// 12.0 or 1e3 are integers written as floats: accept when exact.
	r, err := ratOf(num.String())
	if err != nil {
		return 0, &FieldError{path, fmt.Sprintf("expected %s, got number %s (%v)", want, truncate(num.String()), err)}
	}
	if r != nil && r.IsInt() {
		if r.Num().IsInt64() {
			n := r.Num().Int64()
			if bits == 64 || (n >= math.MinInt32 && n <= math.MaxInt32) {
				return n, nil
			}
		}
		return 0, &FieldError{path, fmt.Sprintf("expected %s, got number %s (out of range)", want, num)}
	}
	return 0, mismatch(path, want, v)
}

func float(v any, bits int, want, path string) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), bits)
		if err != nil {
			return 0, &FieldError{path, fmt.Sprintf("expected %s, got number %s (out of range)", want, x)}
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, mismatch(path, want, v)
}

func convertLogical(sc *avro.PrimitiveSchema, l avro.LogicalSchema, v any, path string) (any, error) {
	lt := l.Type()
	switch {
	case sc.Type() == avro.Long && (lt == avro.TimestampMillis || lt == avro.LocalTimestampMillis):
		return timestamp(v, time.Millisecond, string(lt), "milliseconds", path)
	case sc.Type() == avro.Long && (lt == avro.TimestampMicros || lt == avro.LocalTimestampMicros):
		return timestamp(v, time.Microsecond, string(lt), "microseconds", path)
	case sc.Type() == avro.Int && lt == avro.Date:
		switch x := v.(type) {
		case string:
			t, err := time.Parse(time.DateOnly, x)
			if err != nil {
				return nil, &FieldError{path, fmt.Sprintf("expected date (YYYY-MM-DD or days since 1970-01-01), got string %s", quote(x))}
			}
			return t, nil
		case json.Number:
			days, err := integer(x, 32, "date (days since 1970-01-01)", path)
			if err != nil {
				return nil, err
			}
			return time.Unix(days*86400, 0).UTC(), nil
		}
		return nil, mismatch(path, "date (YYYY-MM-DD or days since 1970-01-01)", v)
	case sc.Type() == avro.Int && lt == avro.TimeMillis:
		return timeOfDay(v, time.Millisecond, string(lt), "milliseconds", 32, path)
	case sc.Type() == avro.Long && lt == avro.TimeMicros:
		return timeOfDay(v, time.Microsecond, string(lt), "microseconds", 64, path)
	case sc.Type() == avro.String && lt == avro.UUID:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(path, "uuid (string)", v)
		}
		if !isUUID(str) {
			return nil, &FieldError{path, fmt.Sprintf("expected uuid (8-4-4-4-12 hex digits), got string %s", quote(str))}
		}
		return str, nil
	case sc.Type() == avro.Bytes && lt == avro.Decimal:
		return convertDecimal(l.(*avro.DecimalLogicalSchema), v, path)
	}
	// A logical type this converter does not know: use the underlying type.
	return convertPrimitive(avro.NewPrimitiveSchema(sc.Type(), nil), v, path)
}

func timestamp(v any, unit time.Duration, name, units, path string) (any, error) {
	want := fmt.Sprintf("%s (RFC 3339 string or epoch %s)", name, units)
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return nil, &FieldError{path, fmt.Sprintf("expected %s, got string %s", want, quote(x))}
		}
		return t.UTC(), nil
	case json.Number:
		n, err := integer(x, 64, want, path)
		if err != nil {
			return nil, err
		}
		if unit == time.Millisecond {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.UnixMicro(n).UTC(), nil
	}
	return nil, mismatch(path, want, v)
}

func timeOfDay(v any, unit time.Duration, name, units string, bits int, path string) (any, error) {
	want := fmt.Sprintf("%s (HH:MM:SS[.fraction] or %s since midnight)", name, units)
	switch x := v.(type) {
	case string:
		t, err := time.Parse("15:04:05.999999999", x)
		if err != nil {
			return nil, &FieldError{path, fmt.Sprintf("expected %s, got string %s", want, quote(x))}
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
			time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
		return d.Truncate(unit), nil
	case json.Number:
		n, err := integer(x, bits, want, path)
		if err != nil {
			return nil, err
		}
		return time.Duration(n) * unit, nil
	}
	return nil, mismatch(path, want, v)
}

func convertDecimal(d *avro.DecimalLogicalSchema, v any, path string) (any, error) {
	want := fmt.Sprintf("decimal(%d,%d) (JSON number or decimal string)", d.Precision(), d.Scale())
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = x
	default:
		return nil, mismatch(path, want, v)
	}
	r, err := ratOf(text)
	if err != nil {
		return nil, &FieldError{path, fmt.Sprintf("expected %s, got %s (%v)", want, describe(v), err)}
	}
	if r == nil {
		return nil, &FieldError{path, fmt.Sprintf("expected %s, got %s", want, describe(v))}
	}
	// The value must be exact at the schema's scale and fit its precision.
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale())), nil)))
	if !scaled.IsInt() {
		return nil, &FieldError{path, fmt.Sprintf("expected %s, got %s (more than %d decimal places)", want, text, d.Scale())}
	}
	digits := len(new(big.Int).Abs(scaled.Num()).String())
	if scaled.Num().Sign() != 0 && digits > d.Precision() {
		return nil, &FieldError{path, fmt.Sprintf("expected %s, got %s (more than %d digits)", want, text, d.Precision())}
	}
	return r, nil
}

// maxExponent bounds the exponent of numbers parsed exactly: big.Rat would
// otherwise build 10^exponent, and 1e999999999 would take minutes.
const maxExponent = 1000

// ratOf parses a decimal number exactly. It returns nil, nil for text that
// is not a decimal number, and an error for an exponent beyond maxExponent.
func ratOf(text string) (*big.Rat, error) {
	if text == "" || strings.ContainsAny(text, "/xXpP_") {
		return nil, nil
	}
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		exp, err := strconv.Atoi(text[i+1:])
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, fmt.Errorf("exponent out of range ±%d", maxExponent)
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, nil
	}
	return r, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func mismatch(path, want string, got any) error {
	return &FieldError{path, fmt.Sprintf("expected %s, got %s", want, describe(got))}
}

// describe names a JSON value's type, with the value for scalars.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case json.Number:
		return "number " + truncate(x.String())
	case string:
		return "string " + quote(x)
	case []any:
		return fmt.Sprintf("array of %d", len(x))
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// quote quotes s for a message, cut to 40 runes.
func quote(s string) string {
	return strconv.Quote(truncate(s))
}

func truncate(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}
