package policy

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// rd reads Avro binary with bounds checks on every length.
type rd struct {
	b []byte
	i int
}

func (r *rd) long() (int64, error) {
	var u uint64
	var s uint
	for k := 0; k < 10; k++ {
		if r.i >= len(r.b) {
			return 0, errTruncated
		}
		c := r.b[r.i]
		r.i++
		u |= uint64(c&0x7f) << s
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
		s += 7
	}
	return 0, errVarint
}

func (r *rd) span(n int64) ([]byte, error) {
	if n < 0 {
		return nil, errNegLength
	}
	if n > int64(len(r.b)-r.i) {
		return nil, errLength
	}
	s := r.b[r.i : r.i+int(n) : r.i+int(n)]
	r.i += int(n)
	return s, nil
}

func (r *rd) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	return r.span(n)
}

// blockCount reads an array/map block header. A count larger than the
// remaining bytes is refused: every item takes at least one byte, except for
// null and empty records, which we do not accept in bulk (bounded work).
func (r *rd) blockCount() (int64, error) {
	c, err := r.long()
	if err != nil {
		return 0, err
	}
	if c < 0 {
		if c == math.MinInt64 {
			return 0, errNegLength
		}
		c = -c
		if _, err := r.long(); err != nil { // block size in bytes, unused
			return 0, err
		}
	}
	if c > int64(len(r.b)-r.i) {
		return 0, errLength
	}
	return c, nil
}

func (n *dnode) setNum(v *value, x int64) {
	switch n.to {
	case avro.Float:
		v.k, v.f = kFloat, float64(float32(x))
	case avro.Double:
		v.k, v.f = kDouble, float64(x)
	default:
		v.k, v.n = kInt, x
	}
}

// decodeValue decodes one top-level field into v.
func (n *dnode) decodeValue(r *rd, v *value) error {
	v.br = n.rBranch
	switch n.op {
	case opUnion:
		idx, err := r.long()
		if err != nil {
			return err
		}
		if idx < 0 || idx >= int64(len(n.branches)) {
			return errUnionIndex
		}
		b := n.branches[idx]
		if b == nil {
			return errUnresolvable
		}
		return b.decodeValue(r, v)
	case opNull:
		v.k = kNull
	case opBool:
		if r.i >= len(r.b) {
			return errTruncated
		}
		c := r.b[r.i]
		r.i++
		if c > 1 {
			return errBool
		}
		v.k, v.n = kBool, int64(c)
	case opInt, opLong:
		x, err := r.long()
		if err != nil {
			return err
		}
		if n.op == opInt && (x < math.MinInt32 || x > math.MaxInt32) {
			return errIntRange
		}
		n.setNum(v, x)
	case opFloat:
		if len(r.b)-r.i < 4 {
			return errTruncated
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.i:]))
		r.i += 4
		v.f = float64(f)
		v.k = kFloat
		if n.to == avro.Double {
			v.k = kDouble
		}
	case opDouble:
		if len(r.b)-r.i < 8 {
			return errTruncated
		}
		v.k, v.f = kDouble, math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
		r.i += 8
	case opBytes:
		b, err := r.bytes()
		if err != nil {
			return err
		}
		if n.utf8 && !utf8.Valid(b) {
			return errUTF8
		}
		v.b = b
		v.k = kBytes
		if n.to == avro.String {
			v.k = kString
		}
	case opEnum:
		x, err := r.long()
		if err != nil {
			return err
		}
		if x < 0 || x >= int64(len(n.enumMap)) {
			return errEnumIndex
		}
		j := n.enumMap[x]
		if j < 0 {
			return errUnresolvable
		}
		v.k, v.n, v.nat = kEnum, int64(j), n.symVals[j]
	case opFixed:
		b, err := r.span(int64(n.size))
		if err != nil {
			return err
		}
		v.k, v.b = kFixed, b
	default: // record, array, map
		if n.identical {
			start := r.i
			if err := n.skip(r, 0); err != nil {
				return err
			}
			v.k, v.b = kRaw, r.b[start:r.i:r.i]
			return nil
		}
		nat, err := n.decodeNative(r, 0)
		if err != nil {
			return err
		}
		v.k, v.nat = kNative, nat
	}
	return nil
}

// maxNativeDepth bounds recursion when decoding nested values.
const maxNativeDepth = 64

// decodeNative decodes a value into plain Go values: nil, bool, int64,
// float64, string, []byte, []any, map[string]any (enums as their symbol).
func (n *dnode) decodeNative(r *rd, depth int) (any, error) {
	if depth > maxNativeDepth {
		return nil, errNativeTooDeep
	}
	switch n.op {
	case opUnion:
		idx, err := r.long()
		if err != nil {
			return nil, err
		}
		if idx < 0 || idx >= int64(len(n.branches)) {
			return nil, errUnionIndex
		}
		b := n.branches[idx]
		if b == nil {
			return nil, errUnresolvable
		}
		return b.decodeNative(r, depth+1)
	case opRecord:
		m := make(map[string]any, len(n.names))
		for _, s := range n.steps {
			if s.to < 0 {
				if err := s.node.skip(r, depth+1); err != nil {
					return nil, err
				}
				continue
			}
			x, err := s.node.decodeNative(r, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", n.names[s.to], err)
			}
			m[n.names[s.to]] = x
		}
		for _, d := range n.defs {
			m[n.names[d.to]] = d.nat
		}
		return m, nil
	case opArray:
		var out []any
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if c == 0 {
				break
			}
			for ; c > 0; c-- {
				x, err := n.items.decodeNative(r, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, x)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case opMap:
		out := map[string]any{}
		for {
			c, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if c == 0 {
				break
			}
			for ; c > 0; c-- {
				k, err := r.bytes()
				if err != nil {
					return nil, err
				}
				x, err := n.items.decodeNative(r, depth+1)
				if err != nil {
					return nil, err
				}
				out[string(k)] = x
			}
		}
		return out, nil
	}
	var v value
	if err := n.decodeValue(r, &v); err != nil {
		return nil, err
	}
	switch v.k {
	case kNull:
		return nil, nil
	case kBool:
		return v.n != 0, nil
	case kInt:
		return v.n, nil
	case kFloat, kDouble:
		return v.f, nil
	case kString:
		return string(v.b), nil
	case kBytes, kFixed:
		return append([]byte(nil), v.b...), nil
	case kEnum:
		return n.symbols[v.n], nil
	}
	return nil, fmt.Errorf("internal: unexpected kind %d", v.k)
}

// skip advances over one value written with this node's writer schema,
// validating it as decodeValue would (a skipped field is no excuse for a
// malformed body).
func (n *dnode) skip(r *rd, depth int) error {
	if depth > maxNativeDepth {
		return errNativeTooDeep
	}
	switch n.op {
	case opNull:
		return nil
	case opBool:
		if r.i >= len(r.b) {
			return errTruncated
		}
		if r.b[r.i] > 1 {
			return errBool
		}
		r.i++
		return nil
	case opLong:
		_, err := r.long()
		return err
	case opInt:
		x, err := r.long()
		if err == nil && (x < math.MinInt32 || x > math.MaxInt32) {
			return errIntRange
		}
		return err
	case opEnum:
		x, err := r.long()
		if err == nil && (x < 0 || x >= int64(len(n.enumMap))) {
			return errEnumIndex
		}
		return err
	case opFloat:
		_, err := r.span(4)
		return err
	case opDouble:
		_, err := r.span(8)
		return err
	case opBytes:
		b, err := r.bytes()
		if err == nil && n.utf8 && !utf8.Valid(b) {
			return errUTF8
		}
		return err
	case opFixed:
		_, err := r.span(int64(n.size))
		return err
	case opUnion:
		idx, err := r.long()
		if err != nil {
			return err
		}
		if idx < 0 || idx >= int64(len(n.branches)) {
			return errUnionIndex
		}
		if n.branches[idx] == nil {
			return errUnresolvable
		}
		return n.branches[idx].skip(r, depth+1)
	case opRecord:
		for _, s := range n.steps {
			if err := s.node.skip(r, depth+1); err != nil {
				return err
			}
		}
		return nil
	case opArray, opMap:
		for {
			c, err := r.blockCount()
			if err != nil {
				return err
			}
			if c == 0 {
				return nil
			}
			for ; c > 0; c-- {
				if n.op == opMap {
					if _, err := r.bytes(); err != nil {
						return err
					}
				}
				if err := n.items.skip(r, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("internal: unknown op %d", n.op)
}
