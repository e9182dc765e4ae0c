package policy

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
)

func appendLong(dst []byte, x int64) []byte {
	u := uint64(x<<1) ^ uint64(x>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendBytes(dst, b []byte) []byte {
	dst = appendLong(dst, int64(len(b)))
	return append(dst, b...)
}

func appendFloat(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
}

func appendDouble(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// encodeValue appends v encoded under the (non-union) schema s.
func encodeValue(dst []byte, s avro.Schema, v *value) ([]byte, error) {
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		return dst, nil
	case avro.Boolean:
		return append(dst, byte(v.n&1)), nil
	case avro.Int, avro.Long, avro.Enum:
		return appendLong(dst, v.n), nil
	case avro.Float:
		return appendFloat(dst, float32(v.f)), nil
	case avro.Double:
		return appendDouble(dst, v.f), nil
	case avro.String, avro.Bytes:
		return appendBytes(dst, v.b), nil
	case avro.Fixed:
		return append(dst, v.b...), nil
	}
	switch v.k {
	case kRaw:
		return append(dst, v.b...), nil
	case kNative:
		return encodeNative(dst, s, v.nat, 0)
	}
	return dst, fmt.Errorf("internal: cannot encode kind %d as %s", v.k, s.Type())
}

// encodeNative appends a Go value (as produced by decodeNative) under s.
func encodeNative(dst []byte, s avro.Schema, x any, depth int) ([]byte, error) {
	if depth > maxNativeDepth {
		return dst, errNativeTooDeep
	}
	s = deref(s)
	switch t := s.(type) {
	case *avro.RecordSchema:
		return encodeRecordNative(dst, t, x, depth)
	case *avro.ArraySchema:
		return encodeArrayNative(dst, t, x, depth)
	case *avro.MapSchema:
		return encodeMapNative(dst, t, x, depth)
	case *avro.UnionSchema:
		for j, b := range t.Types() {
			if nativeFits(deref(b), x) {
				return encodeNative(appendLong(dst, int64(j)), b, x, depth+1)
			}
		}
	default:
		if out, ok := encodeScalarNative(dst, s, x); ok {
			return out, nil
		}
	}
	return dst, fmt.Errorf("cannot encode %T as %s", x, s.Type())
}

// encodeScalarNative appends a scalar, enum or fixed Go value under s; ok
// is false when x is not a value of s.
func encodeScalarNative(dst []byte, s avro.Schema, x any) (out []byte, ok bool) {
	switch s.Type() {
	case avro.Null:
		return dst, x == nil
	case avro.Boolean:
		b, ok := x.(bool)
		if b {
			return append(dst, 1), ok
		}
		return append(dst, 0), ok
	case avro.Int, avro.Long:
		i, ok := x.(int64)
		return appendLong(dst, i), ok
	case avro.Float, avro.Double:
		var f float64
		switch t := x.(type) {
		case float64:
			f = t
		case int64:
			f = float64(t)
		default:
			return dst, false
		}
		if s.Type() == avro.Float {
			return appendFloat(dst, float32(f)), true
		}
		return appendDouble(dst, f), true
	case avro.String, avro.Bytes:
		switch t := x.(type) {
		case string:
			dst = appendLong(dst, int64(len(t)))
			return append(dst, t...), true
		case []byte:
			return appendBytes(dst, t), true
		}
	case avro.Fixed:
		b, ok := x.([]byte)
		if ok && len(b) == s.(*avro.FixedSchema).Size() {
			return append(dst, b...), true
		}
	case avro.Enum:
		sym, ok := x.(string)
		if j := indexOf(s.(*avro.EnumSchema).Symbols(), sym); ok && j >= 0 {
			return appendLong(dst, int64(j)), true
		}
	}
	return dst, false
}

func encodeRecordNative(dst []byte, s *avro.RecordSchema, x any, depth int) ([]byte, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return dst, fmt.Errorf("cannot encode %T as %s", x, s.Type())
	}
	var err error
	for _, f := range s.Fields() {
		if dst, err = encodeNative(dst, f.Type(), m[f.Name()], depth+1); err != nil {
			return dst, fmt.Errorf("field %s: %w", f.Name(), err)
		}
	}
	return dst, nil
}

func encodeArrayNative(dst []byte, s *avro.ArraySchema, x any, depth int) ([]byte, error) {
	l, ok := x.([]any)
	if !ok {
		return dst, fmt.Errorf("cannot encode %T as %s", x, s.Type())
	}
	if len(l) > 0 {
		dst = appendLong(dst, int64(len(l)))
		var err error
		for _, it := range l {
			if dst, err = encodeNative(dst, s.Items(), it, depth+1); err != nil {
				return dst, err
			}
		}
	}
	return append(dst, 0), nil
}

func encodeMapNative(dst []byte, s *avro.MapSchema, x any, depth int) ([]byte, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return dst, fmt.Errorf("cannot encode %T as %s", x, s.Type())
	}
	if len(m) > 0 {
		dst = appendLong(dst, int64(len(m)))
		var err error
		for k, it := range m {
			dst = appendLong(dst, int64(len(k)))
			dst = append(dst, k...)
			if dst, err = encodeNative(dst, s.Values(), it, depth+1); err != nil {
				return dst, err
			}
		}
	}
	return append(dst, 0), nil
}

// nativeFits reports whether a decoded Go value belongs to schema s (used to
// pick a union branch when re-encoding).
func nativeFits(s avro.Schema, x any) bool {
	switch t := x.(type) {
	case nil:
		return s.Type() == avro.Null
	case bool:
		return s.Type() == avro.Boolean
	case int64:
		if s.Type() == avro.Int {
			return t >= math.MinInt32 && t <= math.MaxInt32
		}
		return s.Type() == avro.Long
	case float64:
		return s.Type() == avro.Float || s.Type() == avro.Double
	case string:
		if e, ok := s.(*avro.EnumSchema); ok {
			return indexOf(e.Symbols(), t) >= 0
		}
		return s.Type() == avro.String
	case []byte:
		if f, ok := s.(*avro.FixedSchema); ok {
			return f.Size() == len(t)
		}
		return s.Type() == avro.Bytes
	case []any:
		return s.Type() == avro.Array
	case map[string]any:
		return s.Type() == avro.Record || s.Type() == avro.Map
	}
	return false
}
