package policy

import (
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/schemas/resolve"
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
	to        avro.Type  // reader type (after dereferencing; never a union)
	rBranch   int32      // reader union branch the value lands in; -1 if the reader is not a union
	identical bool       // writer and reader schemas are the same: the raw span is valid under the reader
	utf8      bool       // a string on either side: its bytes must be valid UTF-8
	size      int        // fixed size
	enumMap   []int32    // writer enum index → reader enum index, -1 when absent
	symbols   []string   // reader enum symbols
	symVals   []ref.Val  // reader enum symbols as CEL strings
	steps     []fstep    // record: one per writer field
	defs      []fdefault // record: reader fields absent from the writer
	names     []string   // record: reader field names
	items     *dnode     // array items, map values
	branches  []*dnode   // writer union branches; nil entry = branch not resolvable
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

func deref(s avro.Schema) avro.Schema { return resolve.Deref(s) }

func logicalOf(s avro.Schema) avro.LogicalType {
	if p, ok := deref(s).(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return p.Logical().Type()
	}
	return ""
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// resolver compiles decoder nodes from the resolution trees of package
// schemas/resolve, the same resolution the registry's compatibility check
// uses; maxDepth bounds nesting (and so refuses recursive schemas).
type resolver struct {
	maxDepth int
}

// identity compiles a node decoding data written with s as s.
func (rv *resolver) identity(s avro.Schema) (*dnode, error) { return rv.resolve(s, s) }

// resolve compiles a decoder reading data written with w as r. A pair the
// registry would refuse is refused here, unless the problems are confined
// to writer union branches or enum symbols: then only the records using
// them fail to decode (errUnresolvable, quarantined as schema:unresolvable).
func (rv *resolver) resolve(w, r avro.Schema) (*dnode, error) {
	root, problems := resolve.Resolve(w, r, rv.maxDepth)
	for _, p := range problems {
		if p.Kind == resolve.TooDeep {
			return nil, fmt.Errorf("%w (%d levels; recursive schemas are not accepted)", errTooDeep, rv.maxDepth)
		}
	}
	return rv.compile(root)
}

// compile turns one node of a resolution tree into a decoder node.
func (rv *resolver) compile(t *resolve.Node) (*dnode, error) {
	if t.Problem != nil {
		return nil, errors.New(t.Problem.String())
	}
	if t.Writer.Type() == avro.Union {
		return rv.compileWriterUnion(t)
	}
	n := &dnode{rBranch: int32(t.ReaderBranch), to: t.Reader.Type()}
	switch t.Writer.Type() {
	case avro.Null:
		n.op = opNull
	case avro.Boolean:
		n.op = opBool
	case avro.Int:
		n.op = opInt
	case avro.Long:
		n.op = opLong
	case avro.Float:
		n.op = opFloat
	case avro.Double:
		n.op = opDouble
	case avro.String, avro.Bytes:
		n.op = opBytes
		// Avro strings are UTF-8: a string that is not is malformed data,
		// whether the plan reads the field or skips it.
		n.utf8 = t.Writer.Type() == avro.String || t.Reader.Type() == avro.String
	case avro.Enum:
		n.op = opEnum
		compileEnum(n, t)
	case avro.Fixed:
		n.op, n.size = opFixed, t.Writer.(*avro.FixedSchema).Size()
	case avro.Array, avro.Map:
		n.op = opArray
		if t.Writer.Type() == avro.Map {
			n.op = opMap
		}
		items, err := rv.compile(t.Items)
		if err != nil {
			return nil, err
		}
		n.items = items
	case avro.Record:
		n.op = opRecord
		if err := rv.compileRecord(n, t); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported writer type %s", t.Writer.Type())
	}
	switch n.op {
	case opRecord, opArray, opMap:
		n.identical = t.Writer.Fingerprint() == t.Reader.Fingerprint()
	}
	return n, nil
}

// compileWriterUnion compiles each writer branch; a branch that cannot be
// read stays nil (its records are unresolvable), as long as one can.
func (rv *resolver) compileWriterUnion(t *resolve.Node) (*dnode, error) {
	n := &dnode{op: opUnion, rBranch: -1}
	var firstErr error
	for _, b := range t.Branches {
		c, err := rv.compile(b)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		n.branches = append(n.branches, c)
	}
	for _, c := range n.branches {
		if c != nil {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no branch of the writer union resolves: %w", firstErr)
}

// compileEnum maps writer symbols to the reader's (-1: unresolvable).
func compileEnum(n *dnode, t *resolve.Node) {
	n.symbols = t.Reader.(*avro.EnumSchema).Symbols()
	for _, s := range n.symbols {
		n.symVals = append(n.symVals, stringVal(s))
	}
	for _, j := range t.EnumMap {
		n.enumMap = append(n.enumMap, int32(j))
	}
}

// compileRecord compiles one step per writer field (read into a reader
// field or skipped) and the defaults of the reader fields the writer lacks.
func (rv *resolver) compileRecord(n *dnode, t *resolve.Node) error {
	for _, f := range t.Reader.(*avro.RecordSchema).Fields() {
		n.names = append(n.names, f.Name())
	}
	for _, f := range t.Fields {
		c, err := rv.compile(f.Node)
		if err != nil {
			return err
		}
		n.steps = append(n.steps, fstep{name: f.Writer.Name(), node: c, to: f.Reader})
	}
	for _, m := range t.Missing {
		if m.Problem != nil {
			return errors.New(m.Problem.String())
		}
		d, err := rv.defaultOf(m.Field, m.Node)
		if err != nil {
			return err
		}
		d.to = m.Reader
		n.defs = append(n.defs, d)
	}
	return nil
}

// defaultOf encodes a field's default under its type and decodes it back
// with ident (the field's type read as itself), so defaults take exactly
// the shape of decoded values.
func (rv *resolver) defaultOf(f *avro.Field, ident *resolve.Node) (fdefault, error) {
	bin, err := encodeDefault(nil, f.Type(), f.Default())
	if err != nil {
		return fdefault{}, fmt.Errorf("field %s: encoding its default: %w", f.Name(), err)
	}
	id, err := rv.compile(ident)
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

// encodeDefault appends a default value (as hamba/avro parsed it) under s.
// hamba marshals a union only from null or a typed value, but a default
// belongs to the union's first branch (Avro spec, "Complex Types"), so
// unions, and the records, arrays and maps that may hold them, are written
// here; other values go through hamba.
func encodeDefault(dst []byte, s avro.Schema, x any) ([]byte, error) {
	var err error
	switch t := deref(s).(type) {
	case *avro.UnionSchema:
		return encodeDefault(appendLong(dst, 0), t.Types()[0], x)
	case *avro.RecordSchema:
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not a record", x)
		}
		for _, f := range t.Fields() {
			v, ok := m[f.Name()]
			if !ok {
				v = f.Default()
			}
			if dst, err = encodeDefault(dst, f.Type(), v); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *avro.ArraySchema:
		l, ok := x.([]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not an array", x)
		}
		if len(l) > 0 {
			dst = appendLong(dst, int64(len(l)))
		}
		for _, v := range l {
			if dst, err = encodeDefault(dst, t.Items(), v); err != nil {
				return nil, err
			}
		}
		return append(dst, 0), nil
	case *avro.MapSchema:
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("default %v is not a map", x)
		}
		if len(m) > 0 {
			dst = appendLong(dst, int64(len(m)))
		}
		for k, v := range m {
			dst = appendBytes(dst, []byte(k))
			if dst, err = encodeDefault(dst, t.Values(), v); err != nil {
				return nil, err
			}
		}
		return append(dst, 0), nil
	}
	b, err := avro.Marshal(s, x)
	return append(dst, b...), err
}
