package schemas

import (
	"fmt"
	"math/big"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// validateBody walks body under s without allocating and reports the
// first structural fault: a malformed varint, a negative or oversized
// length, a block count that overflows, an index outside a union or enum,
// a value cut short. hamba/avro trusts its input: a block count near
// MinInt64 makes its array decoder write at negative indexes (a SIGSEGV
// found by FuzzFrameDecode), so only bodies that pass this walk reach it.
func validateBody(s avro.Schema, body []byte, maxBytes, maxItems int) error {
	v := validator{b: body, maxBytes: maxBytes, maxItems: maxItems}
	return v.value(s)
}

type validator struct {
	b        []byte
	pos      int
	maxBytes int
	maxItems int
}

func (v *validator) errf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{v.pos}, args...)...)
}

// long reads a zigzag varint of at most 10 bytes.
func (v *validator) long() (int64, error) {
	var u uint64
	for i := 0; i < 10; i++ {
		if v.pos >= len(v.b) {
			return 0, v.errf("value cut short inside a varint")
		}
		c := v.b[v.pos]
		v.pos++
		if i == 9 && c > 1 {
			return 0, v.errf("varint overflows 64 bits")
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, v.errf("varint longer than 10 bytes")
}

func (v *validator) int() (int64, error) {
	n, err := v.long()
	if err != nil {
		return 0, err
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, v.errf("int %d out of 32-bit range", n)
	}
	return n, nil
}

func (v *validator) skip(n int64, what string) error {
	if n < 0 || n > int64(len(v.b)-v.pos) {
		return v.errf("%s needs %d bytes, %d left", what, n, len(v.b)-v.pos)
	}
	v.pos += int(n)
	return nil
}

// span reads a length-prefixed value and returns its bytes.
func (v *validator) span(what string) ([]byte, error) {
	n, err := v.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, v.errf("negative %s length %d", what, n)
	}
	if n > int64(v.maxBytes) {
		return nil, v.errf("%s length %d over the limit of %d", what, n, v.maxBytes)
	}
	start := v.pos
	if err := v.skip(n, what); err != nil {
		return nil, err
	}
	return v.b[start:v.pos], nil
}

// decimal checks that a decimal's unscaled value (big-endian two's
// complement) has no more digits than the schema's precision: such a value
// is invalid data, and no encoder would write it back.
func (v *validator) decimal(b []byte, s avro.Schema) error {
	ls, ok := s.(avro.LogicalTypeSchema)
	if !ok || ls.Logical() == nil || ls.Logical().Type() != avro.Decimal {
		return nil
	}
	dec, ok := ls.Logical().(*avro.DecimalLogicalSchema)
	if !ok {
		return nil
	}
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 { // negative: subtract 2^(8·len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if digits := len(n.Abs(n).String()); n.Sign() != 0 && digits > dec.Precision() {
		return v.errf("decimal of %d digits exceeds its precision %d", digits, dec.Precision())
	}
	return nil
}

// blocks walks the blocks of an array or map, calling item once per item.
func (v *validator) blocks(what string, item func() error) error {
	total := int64(0)
	for {
		n, err := v.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == -1<<63 {
				return v.errf("%s block count overflows", what)
			}
			n = -n
			size, err := v.long()
			if err != nil {
				return err
			}
			if size < 0 {
				return v.errf("negative %s block size %d", what, size)
			}
		}
		total += n
		if total > int64(v.maxItems) {
			return v.errf("%s of more than %d items", what, v.maxItems)
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

func (v *validator) value(s avro.Schema) error {
	switch t := deref(s).(type) {
	case *avro.NullSchema:
		return nil
	case *avro.PrimitiveSchema:
		switch t.Type() {
		case avro.Boolean:
			if v.pos >= len(v.b) {
				return v.errf("value cut short: boolean expected")
			}
			if c := v.b[v.pos]; c > 1 {
				return v.errf("boolean byte 0x%02x", c)
			}
			v.pos++
			return nil
		case avro.Int:
			_, err := v.int()
			return err
		case avro.Long:
			_, err := v.long()
			return err
		case avro.Float:
			return v.skip(4, "float")
		case avro.Double:
			return v.skip(8, "double")
		case avro.String:
			b, err := v.span("string")
			if err == nil && !utf8.Valid(b) {
				return v.errf("string is not valid UTF-8")
			}
			return err
		case avro.Bytes:
			b, err := v.span("bytes")
			if err != nil {
				return err
			}
			return v.decimal(b, t)
		}
	case *avro.FixedSchema:
		start := v.pos
		if err := v.skip(int64(t.Size()), "fixed "+t.FullName()); err != nil {
			return err
		}
		return v.decimal(v.b[start:v.pos], t)
	case *avro.EnumSchema:
		i, err := v.int()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(t.Symbols())) {
			return v.errf("enum %s index %d outside its %d symbols", t.FullName(), i, len(t.Symbols()))
		}
		return nil
	case *avro.UnionSchema:
		i, err := v.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(t.Types())) {
			return v.errf("union index %d outside its %d branches", i, len(t.Types()))
		}
		return v.value(t.Types()[i])
	case *avro.ArraySchema:
		return v.blocks("array", func() error { return v.value(t.Items()) })
	case *avro.MapSchema:
		return v.blocks("map", func() error {
			k, err := v.span("map key")
			if err != nil {
				return err
			}
			if !utf8.Valid(k) {
				return v.errf("map key is not valid UTF-8")
			}
			return v.value(t.Values())
		})
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			if err := v.value(f.Type()); err != nil {
				return fmt.Errorf("field %q of %s: %w", f.Name(), t.FullName(), err)
			}
		}
		return nil
	}
	return v.errf("unsupported schema type %s", s.Type())
}
