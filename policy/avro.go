package policy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/google/cel-go/common/types/ref"
	"github.com/hamba/avro/v2"
)

// This file holds the plan's own Avro binary decoder and encoder. They are
// compiled once per (writer schema, reader schema) pair, so the hot path does
// no schema lookups, no reflection and no per-field allocation: top-level
// fields are decoded into a reusable []value indexed by reader field
// position; strings and bytes point into the body; a nested record, array or
// map whose writer and reader schemas are identical is kept as its raw Avro
// span and only materialised if a rule reads it.

// Decoding errors. All but errUnresolvable are decode:malformed.
var (
	errTruncated     = errors.New("body ends inside a value")
	errVarint        = errors.New("varint longer than 10 bytes")
	errLength        = errors.New("length prefix exceeds the remaining body")
	errNegLength     = errors.New("negative length prefix")
	errBool          = errors.New("boolean byte not 0 or 1")
	errIntRange      = errors.New("int value out of 32-bit range")
	errUnionIndex    = errors.New("union branch index out of range")
	errEnumIndex     = errors.New("enum index out of range")
	errTrailing      = errors.New("trailing bytes after the record")
	errUTF8          = errors.New("string is not valid UTF-8")
	errUnresolvable  = errors.New("value cannot be resolved to the plan's schema")
	errNativeTooDeep = errors.New("value nests too deeply")
	errTooDeep       = errors.New("schema nests too deeply")
)

// vkind is the kind of one decoded value, by the reader (plan) schema.
type vkind uint8

const (
	kNull vkind = iota
	kBool
	kInt // int or long
	kFloat
	kDouble
	kString
	kBytes
	kEnum
	kFixed
	kRaw    // record/array/map kept as its Avro span (writer and reader identical)
	kNative // record/array/map decoded through schema resolution into Go values
)

// value is one decoded top-level field.
type value struct {
	k   vkind
	br  int32 // reader union branch; -1 when the reader type is not a union
	n   int64 // bool, int, long, enum index
	f   float64
	b   []byte // string, bytes, fixed contents or raw span; aliases the body
	nat any    // kNative: the decoded Go value; kEnum: the symbol as a CEL string
}

// dop is the writer-side operation of a decoder node.
type dop uint8

const (
	opNull dop = iota
	opBool
	opInt
	opLong
	opFloat
	opDouble
	opBytes // bytes or string on the writer side
	opEnum
	opFixed
	opRecord
	opArray
	opMap
	opUnion // writer union: read the branch index, then dispatch
)

// dnode decodes a value written with a writer schema as its reader schema.
type dnode struct {
	op        dop
	to        avro.Type   // reader type (after dereferencing; never a union)
	rs        avro.Schema // reader schema
	rBranch   int32       // reader union branch the value lands in; -1 if the reader is not a union
	identical bool        // writer and reader schemas are the same: the raw span is valid under the reader
	utf8      bool        // a string on either side: its bytes must be valid UTF-8
	size      int         // fixed size
	enumMap   []int32     // writer enum index → reader enum index, -1 when absent
	symbols   []string    // reader enum symbols
	symVals   []ref.Val   // reader enum symbols as CEL strings
	steps     []fstep     // record: one per writer field
	defs      []fdefault  // record: reader fields absent from the writer
	names     []string    // record: reader field names
	items     *dnode      // array items, map values
	branches  []*dnode    // writer union branches; nil entry = branch not resolvable
}

type fstep struct {
	name string // writer field name, for error details
	node *dnode
	to   int // reader field index; -1 = skip
}

type fdefault struct {
	to  int
	val value // top-level use
	nat any   // nested use
}

func deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

func logicalOf(s avro.Schema) avro.LogicalType {
	if p, ok := deref(s).(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return p.Logical().Type()
	}
	return ""
}

func schemaName(s avro.Schema) string {
	if n, ok := deref(s).(avro.NamedSchema); ok {
		return n.Name()
	}
	return ""
}

func namesMatch(w, r avro.NamedSchema) bool {
	if w.Name() == r.Name() || w.FullName() == r.FullName() {
		return true
	}
	for _, a := range r.Aliases() {
		if a == w.FullName() || a == w.Name() {
			return true
		}
	}
	return false
}

// resolver compiles decoder nodes; depth bounds nesting (and recursive schemas).
type resolver struct {
	maxDepth int
}

// identity compiles a node decoding data written with s as s.
func (rv *resolver) identity(s avro.Schema) (*dnode, error) { return rv.resolve(s, s, 0) }

// resolve compiles writer→reader by the Avro schema-resolution rules.
func (rv *resolver) resolve(w, r avro.Schema, depth int) (*dnode, error) {
	if depth > rv.maxDepth {
		return nil, fmt.Errorf("%w (%d levels; recursive schemas are not accepted)", errTooDeep, rv.maxDepth)
	}
	w, r = deref(w), deref(r)
	if wu, ok := w.(*avro.UnionSchema); ok {
		n := &dnode{op: opUnion, rBranch: -1, rs: r}
		resolvable := false
		var firstErr error
		for _, wb := range wu.Types() {
			b, err := rv.resolve(wb, r, depth+1)
			if errors.Is(err, errTooDeep) {
				return nil, err
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				resolvable = true
			}
			n.branches = append(n.branches, b)
		}
		if !resolvable {
			return nil, fmt.Errorf("no branch of the writer union resolves: %w", firstErr)
		}
		return n, nil
	}
	if ru, ok := r.(*avro.UnionSchema); ok {
		// Prefer a branch of the same type (and name), then any promotable one.
		for pass := 0; pass < 2; pass++ {
			for j, rb := range ru.Types() {
				rb = deref(rb)
				same := rb.Type() == w.Type() && schemaName(rb) == schemaName(w)
				if (pass == 0) != same {
					continue // same-type branches first, then the others, each tried once
				}
				n, err := rv.resolve(w, rb, depth+1)
				if errors.Is(err, errTooDeep) {
					return nil, err
				}
				if err == nil {
					n.rBranch = int32(j)
					return n, nil
				}
			}
		}
		return nil, fmt.Errorf("writer type %s matches no branch of the reader union %s", w.Type(), r)
	}
	n := &dnode{rBranch: -1, rs: r, to: r.Type()}
	mismatch := func() (*dnode, error) {
		return nil, fmt.Errorf("writer type %s cannot be read as %s", w.Type(), r.Type())
	}
	switch w.Type() {
	case avro.Null:
		n.op = opNull
		if r.Type() != avro.Null {
			return mismatch()
		}
	case avro.Boolean:
		n.op = opBool
		if r.Type() != avro.Boolean {
			return mismatch()
		}
	case avro.Int:
		n.op = opInt
		switch r.Type() {
		case avro.Int, avro.Long, avro.Float, avro.Double:
		default:
			return mismatch()
		}
	case avro.Long:
		n.op = opLong
		switch r.Type() {
		case avro.Long, avro.Float, avro.Double:
		default:
			return mismatch()
		}
	case avro.Float:
		n.op = opFloat
		switch r.Type() {
		case avro.Float, avro.Double:
		default:
			return mismatch()
		}
	case avro.Double:
		n.op = opDouble
		if r.Type() != avro.Double {
			return mismatch()
		}
	case avro.String, avro.Bytes:
		n.op = opBytes
		if r.Type() != avro.String && r.Type() != avro.Bytes {
			return mismatch()
		}
		// Avro strings are UTF-8: a string that is not is malformed data,
		// whether the plan reads the field or skips it.
		n.utf8 = w.Type() == avro.String || r.Type() == avro.String
	case avro.Enum:
		n.op = opEnum
		re, ok := r.(*avro.EnumSchema)
		we := w.(*avro.EnumSchema)
		if !ok || !namesMatch(we, re) {
			return mismatch()
		}
		n.symbols = re.Symbols()
		for _, s := range n.symbols {
			n.symVals = append(n.symVals, stringVal(s))
		}
		def := int32(-1)
		if re.HasDefault() {
			def = int32(indexOf(n.symbols, re.Default()))
		}
		for _, s := range we.Symbols() {
			j := int32(indexOf(n.symbols, s))
			if j < 0 {
				j = def
			}
			n.enumMap = append(n.enumMap, j)
		}
	case avro.Fixed:
		n.op = opFixed
		rf, ok := r.(*avro.FixedSchema)
		wf := w.(*avro.FixedSchema)
		if !ok || !namesMatch(wf, rf) || rf.Size() != wf.Size() {
			return mismatch()
		}
		n.size = wf.Size()
	case avro.Array:
		n.op = opArray
		ra, ok := r.(*avro.ArraySchema)
		if !ok {
			return mismatch()
		}
		it, err := rv.resolve(w.(*avro.ArraySchema).Items(), ra.Items(), depth+1)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		n.items = it
	case avro.Map:
		n.op = opMap
		rm, ok := r.(*avro.MapSchema)
		if !ok {
			return mismatch()
		}
		it, err := rv.resolve(w.(*avro.MapSchema).Values(), rm.Values(), depth+1)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		n.items = it
	case avro.Record:
		n.op = opRecord
		rr, ok := r.(*avro.RecordSchema)
		wr := w.(*avro.RecordSchema)
		if !ok || !namesMatch(wr, rr) {
			return mismatch()
		}
		if err := rv.resolveFields(n, wr, rr, depth); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported writer type %s", w.Type())
	}
	switch n.op {
	case opRecord, opArray, opMap:
		n.identical = w.Fingerprint() == r.Fingerprint()
	}
	return n, nil
}

func (rv *resolver) resolveFields(n *dnode, wr, rr *avro.RecordSchema, depth int) error {
	rfields := rr.Fields()
	matched := make([]bool, len(rfields))
	for _, f := range rfields {
		n.names = append(n.names, f.Name())
	}
	for _, wf := range wr.Fields() {
		j := -1
		for k, rf := range rfields {
			if rf.Name() == wf.Name() || indexOf(rf.Aliases(), wf.Name()) >= 0 {
				j = k
				break
			}
		}
		if j < 0 {
			sk, err := rv.resolve(wf.Type(), wf.Type(), depth+1)
			if err != nil {
				return fmt.Errorf("field %s: %w", wf.Name(), err)
			}
			n.steps = append(n.steps, fstep{name: wf.Name(), node: sk, to: -1})
			continue
		}
		c, err := rv.resolve(wf.Type(), rfields[j].Type(), depth+1)
		if err != nil {
			return fmt.Errorf("field %s: %w", wf.Name(), err)
		}
		matched[j] = true
		n.steps = append(n.steps, fstep{name: wf.Name(), node: c, to: j})
	}
	for j, rf := range rfields {
		if matched[j] {
			continue
		}
		if !rf.HasDefault() {
			return fmt.Errorf("field %s is missing from the writer schema and has no default", rf.Name())
		}
		d, err := rv.defaultOf(rf, depth)
		if err != nil {
			return err
		}
		d.to = j
		n.defs = append(n.defs, d)
	}
	return nil
}

// defaultOf encodes a field's default under its type and decodes it back,
// so defaults take exactly the shape of decoded values.
func (rv *resolver) defaultOf(f *avro.Field, depth int) (fdefault, error) {
	bin, err := avro.Marshal(f.Type(), f.Default())
	if err != nil {
		return fdefault{}, fmt.Errorf("field %s: encoding its default: %w", f.Name(), err)
	}
	id, err := rv.resolve(f.Type(), f.Type(), depth+1)
	if err != nil {
		return fdefault{}, fmt.Errorf("field %s: %w", f.Name(), err)
	}
	var d fdefault
	r := rd{b: bin}
	if err := id.decodeValue(&r, &d.val); err != nil {
		return fdefault{}, fmt.Errorf("field %s: decoding its default: %w", f.Name(), err)
	}
	r = rd{b: bin}
	if d.nat, err = id.decodeNative(&r, 0); err != nil {
		return fdefault{}, fmt.Errorf("field %s: decoding its default: %w", f.Name(), err)
	}
	return d, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

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

// Encoding.

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
	bad := func() ([]byte, error) { return dst, fmt.Errorf("cannot encode %T as %s", x, s.Type()) }
	switch s.Type() {
	case avro.Null:
		if x != nil {
			return bad()
		}
		return dst, nil
	case avro.Boolean:
		b, ok := x.(bool)
		if !ok {
			return bad()
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case avro.Int, avro.Long:
		i, ok := x.(int64)
		if !ok {
			return bad()
		}
		return appendLong(dst, i), nil
	case avro.Float, avro.Double:
		var f float64
		switch t := x.(type) {
		case float64:
			f = t
		case int64:
			f = float64(t)
		default:
			return bad()
		}
		if s.Type() == avro.Float {
			return appendFloat(dst, float32(f)), nil
		}
		return appendDouble(dst, f), nil
	case avro.String, avro.Bytes:
		switch t := x.(type) {
		case string:
			dst = appendLong(dst, int64(len(t)))
			return append(dst, t...), nil
		case []byte:
			return appendBytes(dst, t), nil
		}
		return bad()
	case avro.Fixed:
		b, ok := x.([]byte)
		if !ok || len(b) != s.(*avro.FixedSchema).Size() {
			return bad()
		}
		return append(dst, b...), nil
	case avro.Enum:
		sym, ok := x.(string)
		j := indexOf(s.(*avro.EnumSchema).Symbols(), sym)
		if !ok || j < 0 {
			return bad()
		}
		return appendLong(dst, int64(j)), nil
	case avro.Record:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		var err error
		for _, f := range s.(*avro.RecordSchema).Fields() {
			if dst, err = encodeNative(dst, f.Type(), m[f.Name()], depth+1); err != nil {
				return dst, fmt.Errorf("field %s: %w", f.Name(), err)
			}
		}
		return dst, nil
	case avro.Array:
		l, ok := x.([]any)
		if !ok {
			return bad()
		}
		if len(l) > 0 {
			dst = appendLong(dst, int64(len(l)))
			var err error
			for _, it := range l {
				if dst, err = encodeNative(dst, s.(*avro.ArraySchema).Items(), it, depth+1); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case avro.Map:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		if len(m) > 0 {
			dst = appendLong(dst, int64(len(m)))
			var err error
			for k, it := range m {
				dst = appendLong(dst, int64(len(k)))
				dst = append(dst, k...)
				if dst, err = encodeNative(dst, s.(*avro.MapSchema).Values(), it, depth+1); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case avro.Union:
		for j, b := range s.(*avro.UnionSchema).Types() {
			if !nativeFits(deref(b), x) {
				continue
			}
			return encodeNative(appendLong(dst, int64(j)), b, x, depth+1)
		}
		return bad()
	}
	return bad()
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
