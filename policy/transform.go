package policy

import (
	"crypto/sha256"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
)

// Transforms are a registry of named functions (see Transforms). Each knows
// which Avro types it accepts, the derived type it produces and how to encode
// a value. A transform is applied to the non-null branch of a nullable union
// ["null", T]; null passes through. Only keep and redact accept other unions.

// encFn appends the transformed encoding of a non-null value.
type encFn func(dst []byte, v *value, st *evalState) ([]byte, error)

// transformEnv is what a transform may use when it is built.
type transformEnv struct {
	pseudo *hmacKey // the agreement's pseudonym key (pseudonymize)
	b64    bool     // pseudonyms as base64url instead of hex
}

// transformSpec describes one named transform.
type transformSpec struct {
	// check returns why the transform does not fit base ("" when it does) and a hint.
	check func(t agreements.Transform, base avro.Schema) (problem, hint string)
	// out returns the derived type of base as JSON.
	out func(t agreements.Transform, base avro.Schema) json.RawMessage
	// build returns the encoder of a non-null value of base.
	build func(t agreements.Transform, base avro.Schema, env transformEnv) encFn
}

var transforms = map[agreements.TransformKind]transformSpec{}

func registerTransform(kind agreements.TransformKind, s transformSpec) {
	if _, dup := transforms[kind]; dup {
		panic("policy: transform registered twice: " + string(kind)) // programming error at init
	}
	transforms[kind] = s
}

// Transforms lists the names of the registered transforms.
func Transforms() []string {
	out := make([]string, 0, len(transforms))
	for k := range transforms {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

func typeLabel(s avro.Schema) string {
	if l := logicalOf(s); l != "" {
		return fmt.Sprintf("%s (%s)", s.Type(), l)
	}
	return string(s.Type())
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v) // strings and schemas always marshal
	return b
}

var stringType = json.RawMessage(`"string"`)

func init() {
	registerTransform(agreements.Keep, transformSpec{
		check: func(agreements.Transform, avro.Schema) (string, string) { return "", "" },
		out:   func(_ agreements.Transform, base avro.Schema) json.RawMessage { return rawJSON(base) },
		build: func(_ agreements.Transform, base avro.Schema, _ transformEnv) encFn {
			return func(dst []byte, v *value, _ *evalState) ([]byte, error) { return encodeValue(dst, base, v) }
		},
	})
	registerTransform(agreements.Redact, transformSpec{
		check: func(agreements.Transform, avro.Schema) (string, string) { return "", "" },
		out:   func(_ agreements.Transform, base avro.Schema) json.RawMessage { return rawJSON(base) },
		build: nil, // redact is encoded as null by the field wrapper
	})
	registerTransform(agreements.Pseudonymize, transformSpec{
		check: checkIdentifier("pseudonymize"),
		out:   func(agreements.Transform, avro.Schema) json.RawMessage { return stringType },
		build: buildPseudonymize,
	})
	registerTransform(agreements.Hash, transformSpec{
		check: checkIdentifier("hash"),
		out:   func(agreements.Transform, avro.Schema) json.RawMessage { return stringType },
		build: func(agreements.Transform, avro.Schema, transformEnv) encFn {
			return func(dst []byte, v *value, st *evalState) ([]byte, error) {
				st.scratch = identifierBytes(st.scratch[:0], v)
				sum := sha256.Sum256(st.scratch)
				return appendDigest(dst, sum[:], false), nil
			}
		},
	})
	registerTransform(agreements.Truncate, transformSpec{
		check: checkString("truncate", func(t agreements.Transform) (string, string) {
			if t.N <= 0 {
				return fmt.Sprintf("truncate needs a positive length, got %d", t.N), "write truncate: N with N ≥ 1"
			}
			return "", ""
		}),
		out: func(agreements.Transform, avro.Schema) json.RawMessage { return stringType },
		build: func(t agreements.Transform, _ avro.Schema, _ transformEnv) encFn {
			n := t.N
			return func(dst []byte, v *value, _ *evalState) ([]byte, error) {
				return appendBytes(dst, v.b[:runePrefix(v.b, n)]), nil
			}
		},
	})
	registerTransform(agreements.Mask, transformSpec{
		check: checkString("mask", func(t agreements.Transform) (string, string) {
			if t.N < 0 {
				return fmt.Sprintf("mask keep_last must not be negative, got %d", t.N), "write mask: {keep_last: N} with N ≥ 0"
			}
			return "", ""
		}),
		out:   func(agreements.Transform, avro.Schema) json.RawMessage { return stringType },
		build: buildMask,
	})
	registerTransform(agreements.Generalize, transformSpec{
		check: checkGeneralize,
		out:   func(_ agreements.Transform, base avro.Schema) json.RawMessage { return rawJSON(base) },
		build: buildGeneralize,
	})
}

// buildPseudonymize encodes the keyed hash (HMAC) of an identifier.
func buildPseudonymize(_ agreements.Transform, _ avro.Schema, env transformEnv) encFn {
	k, b64 := env.pseudo, env.b64
	return func(dst []byte, v *value, st *evalState) ([]byte, error) {
		st.scratch = identifierBytes(st.scratch[:0], v)
		sum := k.sum(st, st.scratch)
		return appendDigest(dst, sum[:], b64), nil
	}
}

// buildMask replaces all but the last N characters of a string with '*'.
func buildMask(t agreements.Transform, _ avro.Schema, _ transformEnv) encFn {
	keep := t.N
	return func(dst []byte, v *value, _ *evalState) ([]byte, error) {
		total := utf8.RuneCount(v.b)
		masked := total - keep
		if masked < 0 {
			masked = 0
		}
		cut := runePrefix(v.b, masked)
		dst = appendLong(dst, int64(masked+len(v.b)-cut))
		for i := 0; i < masked; i++ {
			dst = append(dst, '*')
		}
		return append(dst, v.b[cut:]...), nil
	}
}

func checkIdentifier(name string) func(agreements.Transform, avro.Schema) (string, string) {
	return func(_ agreements.Transform, base avro.Schema) (string, string) {
		switch base.Type() {
		case avro.String, avro.Bytes, avro.Fixed, avro.Int, avro.Long:
			if logicalOf(base) == "" || logicalOf(base) == avro.UUID {
				return "", ""
			}
		}
		return fmt.Sprintf("%s does not apply to a field of type %s", name, typeLabel(base)),
			"pseudonymize and hash take identifiers: string, bytes, fixed, int or long"
	}
}

func checkString(name string, args func(agreements.Transform) (string, string)) func(agreements.Transform, avro.Schema) (string, string) {
	return func(t agreements.Transform, base avro.Schema) (string, string) {
		if base.Type() != avro.String {
			return fmt.Sprintf("%s does not apply to a field of type %s", name, typeLabel(base)),
				name + " takes string fields; use keep, redact or generalize for others"
		}
		return args(t)
	}
}

func checkGeneralize(t agreements.Transform, base avro.Schema) (string, string) {
	if t.Unit != "" && t.Bucket != 0 {
		return "generalize has both a unit and a bucket", "give either a unit or {bucket: N}"
	}
	if t.Unit != "" {
		switch t.Unit {
		case "year", "month", "day":
		default:
			return fmt.Sprintf("generalize unit %q is not year, month or day", t.Unit), "write generalize: year|month|day"
		}
		switch logicalOf(base) {
		case avro.Date, avro.TimestampMillis, avro.TimestampMicros:
			return "", ""
		}
		return fmt.Sprintf("generalize: %s does not apply to a field of type %s", t.Unit, typeLabel(base)),
			"generalize by year, month or day takes date, timestamp-millis or timestamp-micros fields; use {bucket: N} for numbers"
	}
	if !(t.Bucket > 0) || math.IsInf(t.Bucket, 0) {
		return "generalize needs a unit (year, month, day) or a positive bucket width", "write generalize: month or generalize: {bucket: 10}"
	}
	if logicalOf(base) != "" {
		return fmt.Sprintf("generalize bucket does not apply to a field of type %s", typeLabel(base)), "bucket takes plain int, long, float or double fields"
	}
	switch base.Type() {
	case avro.Int, avro.Long:
		if t.Bucket != math.Trunc(t.Bucket) || t.Bucket > math.MaxInt32 {
			return fmt.Sprintf("bucket width %v is not a whole number for an %s field", t.Bucket, base.Type()), "use a whole bucket width for integer fields"
		}
		return "", ""
	case avro.Float, avro.Double:
		return "", ""
	}
	return fmt.Sprintf("generalize bucket does not apply to a field of type %s", typeLabel(base)), "bucket takes int, long, float or double fields"
}

func buildGeneralize(t agreements.Transform, base avro.Schema, _ transformEnv) encFn {
	if t.Unit != "" {
		unit, lt := t.Unit, logicalOf(base)
		return func(dst []byte, v *value, _ *evalState) ([]byte, error) {
			return appendLong(dst, generalizeTime(v.n, lt, unit)), nil
		}
	}
	if base.Type() == avro.Int || base.Type() == avro.Long {
		w := int64(t.Bucket)
		return func(dst []byte, v *value, _ *evalState) ([]byte, error) {
			q := v.n / w
			if v.n%w != 0 && v.n < 0 {
				q-- // floor, not truncation toward zero
			}
			x := q * w
			if base.Type() == avro.Int && x < math.MinInt32 {
				x += w // stay in range: the lowest bucket is clamped
			}
			return appendLong(dst, x), nil
		}
	}
	w, isFloat := t.Bucket, base.Type() == avro.Float
	return func(dst []byte, v *value, _ *evalState) ([]byte, error) {
		x := math.Floor(v.f/w) * w
		if isFloat {
			return appendFloat(dst, float32(x)), nil
		}
		return appendDouble(dst, x), nil
	}
}

// generalizeTime floors a date (days) or timestamp (ms, µs) to the start of
// its year, month or day, in UTC.
func generalizeTime(x int64, lt avro.LogicalType, unit string) int64 {
	var t time.Time
	switch lt {
	case avro.Date:
		t = time.Unix(x*86400, 0).UTC()
	case avro.TimestampMillis:
		t = time.UnixMilli(x).UTC()
	default:
		t = time.UnixMicro(x).UTC()
	}
	y, m, d := t.Date()
	switch unit {
	case "year":
		m, d = 1, 1
	case "month":
		d = 1
	}
	g := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch lt {
	case avro.Date:
		return int64(math.Floor(float64(g.Unix()) / 86400))
	case avro.TimestampMillis:
		return g.UnixMilli()
	}
	return g.UnixMicro()
}

// runePrefix returns the byte length of the first n runes of b.
func runePrefix(b []byte, n int) int {
	i := 0
	for ; n > 0 && i < len(b); n-- {
		_, size := utf8.DecodeRune(b[i:])
		i += size
	}
	return i
}

// identifierBytes is the canonical byte form an identifier is hashed in:
// the bytes of strings, bytes and fixed; the decimal digits of numbers.
func identifierBytes(dst []byte, v *value) []byte {
	switch v.k {
	case kInt:
		return strconv.AppendInt(dst, v.n, 10)
	default:
		return append(dst, v.b...)
	}
}

func appendDigest(dst, sum []byte, b64 bool) []byte {
	if b64 {
		n := base64.RawURLEncoding.EncodedLen(len(sum))
		dst = appendLong(dst, int64(n))
		return base64.RawURLEncoding.AppendEncode(dst, sum)
	}
	dst = appendLong(dst, int64(hex.EncodedLen(len(sum))))
	return hex.AppendEncode(dst, sum)
}

// hmacKey is an HMAC-SHA256 key with the SHA-256 states after the inner and
// outer padded key blocks precomputed, so a pseudonym costs two short
// SHA-256 runs on the evaluation state's digest and no allocation.
type hmacKey struct {
	inner, outer []byte // marshaled sha256 states
}

func newHMACKey(key []byte) *hmacKey {
	if len(key) > 64 {
		s := sha256.Sum256(key)
		key = s[:]
	}
	var ipad, opad [64]byte
	for i := range ipad {
		var b byte
		if i < len(key) {
			b = key[i]
		}
		ipad[i] = b ^ 0x36
		opad[i] = b ^ 0x5c
	}
	state := func(pad []byte) []byte {
		h := sha256.New()
		h.Write(pad)
		b, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			panic("policy: sha256 state not marshalable: " + err.Error()) // the standard library guarantees it
		}
		return b
	}
	return &hmacKey{inner: state(ipad[:]), outer: state(opad[:])}
}

// sum returns HMAC-SHA256(key, msg).
func (k *hmacKey) sum(st *evalState, msg []byte) [32]byte {
	var out [32]byte
	h := st.sha
	u := h.(encoding.BinaryUnmarshaler)
	if u.UnmarshalBinary(k.inner) != nil {
		return out // cannot happen: the state was marshaled by the same package
	}
	h.Write(msg)
	inner := h.Sum(st.sum[:0])
	if u.UnmarshalBinary(k.outer) != nil {
		return out
	}
	h.Write(inner)
	copy(out[:], h.Sum(st.sum[:0]))
	return out
}
