package resolve

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// DefaultMaxDepth bounds the walk when Resolve is given no bound. Every
// union branch, field, array item and map value is one level.
const DefaultMaxDepth = 1024

// Node is the resolution of one writer value to one reader value.
type Node struct {
	Writer avro.Schema // dereferenced writer schema
	// Reader is the dereferenced reader schema. It is a union only for a
	// writer union (each branch then picks its own reader branch) or when
	// no reader branch matched.
	Reader avro.Schema
	// ReaderBranch is the reader union branch the value lands in, -1 when
	// the reader is not a union.
	ReaderBranch int
	// Problem, when set, says why this writer value cannot be read as the
	// reader type at all. The node then has no children.
	Problem *Problem

	Branches []*Node   // writer union: one node per writer branch, in order
	Fields   []Field   // record: one per writer field, in writer order
	Missing  []Missing // record: reader fields the writer lacks, in reader order
	Items    *Node     // array items or map values
	// EnumMap maps each writer symbol index to the reader symbol index
	// read for it: the same symbol, else the reader's default, else -1
	// (the value cannot be read; Resolve reports a MissingSymbols problem).
	EnumMap []int
}

// Field is one writer field of a record.
type Field struct {
	Writer *avro.Field
	// Reader is the index of the reader field it is read into, or -1 when
	// the reader has no such field and the value is skipped; Node then reads
	// the writer's type as itself.
	Reader int
	Node   *Node
}

// Missing is a reader field the writer lacks.
type Missing struct {
	Reader int         // index of the reader field
	Field  *avro.Field // the reader field
	// Node reads the field's type as itself (to decode its default); nil
	// when the field has no default, and Problem says so.
	Node    *Node
	Problem *Problem
}

// Resolve walks writer against reader by the Avro resolution rules and
// returns the resolution tree and every problem found (none when every
// value of writer can be read with reader). maxDepth bounds the nesting
// walked (DefaultMaxDepth when <= 0); beyond it Resolve stops with one
// TooDeep problem, which is how recursive schemas are refused.
func Resolve(writer, reader avro.Schema, maxDepth int) (*Node, []Problem) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	w := walker{maxDepth: maxDepth}
	root := w.resolve(writer, reader, location{}, 0, writerType)
	return root, w.problems
}

// Deref follows named-type references to the schema they name.
func Deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// Which side of a writer union a message speaks of: the registry's
// messages say "writer union branch" for a branch of a writer union.
const (
	writerType        = "writer type"
	writerUnionBranch = "writer union branch"
)

type walker struct {
	maxDepth int
	tooDeep  bool // set once the bound is hit: the walk unwinds without more work
	problems []Problem
}

func (w *walker) add(loc location, kind Kind, msg string) *Problem {
	w.problems = append(w.problems, Problem{Kind: kind, Path: loc.path, Record: loc.record, Msg: msg})
	return &w.problems[len(w.problems)-1]
}

// fail marks n unreadable with one problem.
func (w *walker) fail(n *Node, loc location, kind Kind, msg string) *Node {
	p := *w.add(loc, kind, msg)
	n.Problem = &p
	return n
}

func (w *walker) resolve(writer, reader avro.Schema, loc location, depth int, what string) *Node {
	ws, rs := Deref(writer), Deref(reader)
	n := &Node{Writer: ws, Reader: rs, ReaderBranch: -1}
	if w.tooDeep {
		n.Problem = &Problem{Kind: TooDeep, Path: loc.path, Record: loc.record, Msg: "walk stopped"}
		return n
	}
	if depth > w.maxDepth {
		w.tooDeep = true
		return w.fail(n, loc, TooDeep, fmt.Sprintf("schema nests deeper than %d levels (recursive schemas are not accepted)", w.maxDepth))
	}
	if wu, ok := ws.(*avro.UnionSchema); ok {
		return w.writerUnion(n, wu, rs, loc, depth)
	}
	if ru, ok := rs.(*avro.UnionSchema); ok {
		return w.readerUnion(ws, ru, loc, depth, what)
	}
	if !matches(ws, rs) {
		return w.fail(n, loc, Mismatch, mismatch(ws, rs, what))
	}
	switch r := rs.(type) {
	case *avro.RecordSchema:
		w.record(n, ws.(*avro.RecordSchema), r, loc, depth)
	case *avro.EnumSchema:
		w.enum(n, ws.(*avro.EnumSchema), r, loc)
	case *avro.ArraySchema:
		n.Items = w.resolve(ws.(*avro.ArraySchema).Items(), r.Items(), loc.suffix("[]"), depth+1, writerType)
	case *avro.MapSchema:
		n.Items = w.resolve(ws.(*avro.MapSchema).Values(), r.Values(), loc.suffix("{}"), depth+1, writerType)
	}
	return n
}

// writerUnion resolves every branch the writer may have written. A branch
// that cannot be read is a problem for the registry; the policy still reads
// the values written with the other branches.
func (w *walker) writerUnion(n *Node, wu *avro.UnionSchema, rs avro.Schema, loc location, depth int) *Node {
	for _, b := range wu.Types() {
		n.Branches = append(n.Branches, w.resolve(b, rs, loc, depth+1, writerUnionBranch))
	}
	return n
}

// readerUnion picks the reader branch a (non-union) writer value lands in:
// among the branches that match the writer type (same type first, then
// promotions, each in union order), the first that resolves without
// problems; if none does, the first matching branch, with its problems.
// The spec reads the first matching branch; preferring one that resolves
// cleanly is what Java's compatibility checker accepts (any reader branch
// compatible with the writer), so the registry and the reader agree.
func (w *walker) readerUnion(ws avro.Schema, ru *avro.UnionSchema, loc location, depth int, what string) *Node {
	var first *Node
	var firstProblems []Problem
	for _, j := range candidates(ws, ru) {
		mark := len(w.problems)
		n := w.resolve(ws, ru.Types()[j], loc, depth+1, writerType)
		n.ReaderBranch = j
		if len(w.problems) == mark || w.tooDeep {
			return n
		}
		if first == nil {
			first, firstProblems = n, append([]Problem(nil), w.problems[mark:]...)
		}
		w.problems = w.problems[:mark]
	}
	if first != nil {
		w.problems = append(w.problems, firstProblems...)
		return first
	}
	n := &Node{Writer: ws, Reader: ru, ReaderBranch: -1}
	return w.fail(n, loc, Mismatch, fmt.Sprintf("%s %q matches no branch of reader type %q", what, Describe(ws), Describe(ru)))
}

// candidates lists the reader union branches matching ws: those of the
// same type first (an int is read as the union's int before its long),
// then those reached by promotion.
func candidates(ws avro.Schema, ru *avro.UnionSchema) []int {
	var same, promoted []int
	for j, b := range ru.Types() {
		switch {
		case !matches(ws, b):
		case Deref(b).Type() == ws.Type():
			same = append(same, j)
		default:
			promoted = append(promoted, j)
		}
	}
	return append(same, promoted...)
}

// record resolves reader fields against writer fields. Problems come in
// reader field order; the tree lists writer fields in writer order, as a
// decoder reads them.
func (w *walker) record(n *Node, ws, rs *avro.RecordSchema, loc location, depth int) {
	wfields, rfields := ws.Fields(), rs.Fields()
	from := matchFields(wfields, rfields)
	to := make([]int, len(wfields))
	for i := range to {
		to[i] = -1
	}
	read := make([]*Node, len(wfields))
	for j, rf := range rfields {
		floc := loc.field(rs.FullName(), rf.Name())
		i := from[j]
		if i < 0 {
			n.Missing = append(n.Missing, w.missing(j, rf, ws, floc, depth))
			continue
		}
		to[i] = j
		read[i] = w.resolve(wfields[i].Type(), rf.Type(), floc, depth+1, writerType)
	}
	for i, wf := range wfields {
		f := Field{Writer: wf, Reader: to[i], Node: read[i]}
		if f.Node == nil { // skipped: the writer's value is read as itself to pass over it
			f.Node = w.resolve(wf.Type(), wf.Type(), loc.field(ws.FullName(), wf.Name()), depth+1, writerType)
		}
		n.Fields = append(n.Fields, f)
	}
}

// matchFields returns, per reader field, the index of the writer field it
// reads, or -1. A reader field reads the writer field of the same name;
// failing that, the first writer field named by one of its aliases that no
// other reader field reads (field aliases are plain names: the spec's
// "reader field y with alias x reads writer field x"). Each writer field
// feeds at most one reader field.
func matchFields(wfields, rfields []*avro.Field) []int {
	from := make([]int, len(rfields))
	taken := make([]bool, len(wfields))
	for j, rf := range rfields {
		from[j] = -1
		for i, wf := range wfields {
			if wf.Name() == rf.Name() {
				from[j], taken[i] = i, true
				break
			}
		}
	}
	for j, rf := range rfields {
		if from[j] >= 0 {
			continue
		}
		for i, wf := range wfields {
			if !taken[i] && indexOf(rf.Aliases(), wf.Name()) >= 0 {
				from[j], taken[i] = i, true
				break
			}
		}
	}
	return from
}

// missing resolves a reader field the writer lacks: its default is read,
// or, without one, the field cannot be filled.
func (w *walker) missing(j int, rf *avro.Field, ws *avro.RecordSchema, loc location, depth int) Missing {
	m := Missing{Reader: j, Field: rf}
	if !rf.HasDefault() {
		p := *w.add(loc, MissingField, fmt.Sprintf("reader field has no default and writer type %q has no such field", Describe(ws)))
		m.Problem = &p
		return m
	}
	m.Node = w.resolve(rf.Type(), rf.Type(), loc, depth+1, writerType)
	return m
}

// enum maps writer symbols to reader symbols. A symbol the reader lacks
// reads as the reader's default; without one, the values holding it cannot
// be read, which is a problem (data-dependent: other values still read).
func (w *walker) enum(n *Node, ws, rs *avro.EnumSchema, loc location) {
	def := -1
	if rs.HasDefault() {
		def = indexOf(rs.Symbols(), rs.Default())
	}
	var lacking []string
	for _, s := range ws.Symbols() {
		j := indexOf(rs.Symbols(), s)
		if j < 0 {
			j = def
		}
		if j < 0 {
			lacking = append(lacking, s)
		}
		n.EnumMap = append(n.EnumMap, j)
	}
	if len(lacking) > 0 {
		w.add(loc, MissingSymbols, fmt.Sprintf("writer type %q has symbols %s that reader type %q lacks, and the reader enum has no default", Describe(ws), quoteAll(lacking), Describe(rs)))
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
