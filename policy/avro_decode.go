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

// branch reads a writer union's branch index and returns the branch's
// decoder (errUnresolvable for a branch the reader cannot read).
func (n *dnode) branch(r *rd) (*dnode, error) {
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
	return b, nil
}

func (r *rd) boolean() (int64, error) {
	if r.i >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.i]
	if c > 1 {
		return 0, errBool
	}
	r.i++
	return int64(c), nil
}

// integer reads an int or long, checking an int's 32-bit range.
func (n *dnode) integer(r *rd) (int64, error) {
	x, err := r.long()
	if err == nil && n.op == opInt && (x < math.MinInt32 || x > math.MaxInt32) {
		return 0, errIntRange
	}
	return x, err
}

// enumIndex reads a writer enum index.
func (n *dnode) enumIndex(r *rd) (int64, error) {
	x, err := r.long()
	if err == nil && (x < 0 || x >= int64(len(n.enumMap))) {
		return 0, errEnumIndex
	}
	return x, err
}

// stringBytes reads a string or bytes, checking UTF-8 where a string is
// involved.
func (n *dnode) stringBytes(r *rd) ([]byte, error) {
	b, err := r.bytes()
	if err == nil && n.utf8 && !utf8.Valid(b) {
		return nil, errUTF8
	}
	return b, err
}

// decodeValue decodes one top-level field into v.
func (n *dnode) decodeValue(r *rd, v *value) error {
	v.br = n.rBranch
	switch n.op {
	case opUnion:
		b, err := n.branch(r)
		if err != nil {
			return err
		}
		return b.decodeValue(r, v)
	case opNull:
		v.k = kNull
	case opBool:
		x, err := r.boolean()
		if err != nil {
			return err
		}
		v.k, v.n = kBool, x
	case opInt, opLong:
		x, err := n.integer(r)
		if err != nil {
			return err
		}
		n.setNum(v, x)
	case opFloat, opDouble:
		return n.decodeFloat(r, v)
	case opBytes:
		b, err := n.stringBytes(r)
		if err != nil {
			return err
		}
		v.b = b
		v.k = kBytes
		if n.to == avro.String {
			v.k = kString
		}
	case opEnum:
		x, err := n.enumIndex(r)
		if err != nil {
			return err
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
		return n.decodeComposite(r, v)
	}
	return nil
}

// decodeFloat reads a float or double, promoted to the reader's type.
func (n *dnode) decodeFloat(r *rd, v *value) error {
	if n.op == opDouble {
		if len(r.b)-r.i < 8 {
			return errTruncated
		}
		v.k, v.f = kDouble, math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
		r.i += 8
		return nil
	}
	if len(r.b)-r.i < 4 {
		return errTruncated
	}
	v.f = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.i:])))
	r.i += 4
	v.k = kFloat
	if n.to == avro.Double {
		v.k = kDouble
	}
	return nil
}

// decodeComposite keeps a record, array or map as its raw span when writer
// and reader agree, and decodes it into Go values otherwise.
func (n *dnode) decodeComposite(r *rd, v *value) error {
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
		b, err := n.branch(r)
		if err != nil {
			return nil, err
		}
		return b.decodeNative(r, depth+1)
	case opRecord:
		return n.decodeRecordNative(r, depth)
	case opArray:
		return n.decodeArrayNative(r, depth)
	case opMap:
		return n.decodeMapNative(r, depth)
	}
	var v value
	if err := n.decodeValue(r, &v); err != nil {
		return nil, err
	}
	return n.native(&v)
}

// native converts a decoded scalar to its plain Go value.
func (n *dnode) native(v *value) (any, error) {
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

func (n *dnode) decodeRecordNative(r *rd, depth int) (any, error) {
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
}

func (n *dnode) decodeArrayNative(r *rd, depth int) (any, error) {
	out := []any{}
	for {
		c, err := r.blockCount()
		if err != nil || c == 0 {
			return out, err
		}
		for ; c > 0; c-- {
			x, err := n.items.decodeNative(r, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
	}
}

func (n *dnode) decodeMapNative(r *rd, depth int) (any, error) {
	out := map[string]any{}
	for {
		c, err := r.blockCount()
		if err != nil || c == 0 {
			return out, err
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
}

// skip advances over one value written with this node's writer schema,
// validating it as decodeValue would (a skipped field is no excuse for a
// malformed body).
func (n *dnode) skip(r *rd, depth int) error {
	if depth > maxNativeDepth {
		return errNativeTooDeep
	}
	var err error
	switch n.op {
	case opNull:
	case opBool:
		_, err = r.boolean()
	case opInt, opLong:
		_, err = n.integer(r)
	case opEnum:
		_, err = n.enumIndex(r)
	case opFloat:
		_, err = r.span(4)
	case opDouble:
		_, err = r.span(8)
	case opBytes:
		_, err = n.stringBytes(r)
	case opFixed:
		_, err = r.span(int64(n.size))
	case opUnion:
		var b *dnode
		if b, err = n.branch(r); err == nil {
			err = b.skip(r, depth+1)
		}
	case opRecord:
		for _, s := range n.steps {
			if err = s.node.skip(r, depth+1); err != nil {
				break
			}
		}
	case opArray, opMap:
		err = n.skipBlocks(r, depth)
	default:
		err = fmt.Errorf("internal: unknown op %d", n.op)
	}
	return err
}

// skipBlocks skips the blocks of an array or map.
func (n *dnode) skipBlocks(r *rd, depth int) error {
	for {
		c, err := r.blockCount()
		if err != nil || c == 0 {
			return err
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
