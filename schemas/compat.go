package schemas

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// checkPair checks candidate against one existing version under level and
// returns the incompatibilities (none when compatible). Each message names
// where (field path and record), what (writer and reader type) and which
// rule, e.g.
//
//	field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int" (BACKWARD: new schema must read data written with version 2)
func checkPair(level Compatibility, candidate, existing avro.Schema, version int) []string {
	var out []string
	if level.backward() {
		rule := fmt.Sprintf("%s: new schema must read data written with version %d", level, version)
		out = append(out, Resolve(existing, candidate, rule)...)
	}
	if level.forward() {
		rule := fmt.Sprintf("%s: version %d must read data written with the new schema", level, version)
		out = append(out, Resolve(candidate, existing, rule)...)
	}
	return out
}

// Resolve reports why data written with writer cannot be read with reader
// under the Avro schema-resolution rules (empty when it can). rule, if not
// empty, is appended to each message in parentheses. It is exported for
// the policy package, which resolves old writer versions against the
// version a plan was compiled for.
func Resolve(writer, reader avro.Schema, rule string) []string {
	r := resolver{rule: rule}
	r.resolve(writer, reader, location{})
	return r.msgs
}

type location struct {
	path   string // dotted field path from the root record ("" at the root)
	record string // full name of the record holding the field
}

func (l location) String() string {
	if l.path == "" {
		return "schema root"
	}
	return fmt.Sprintf("field %q (record %s)", l.path, l.record)
}

func (l location) field(record, name string) location {
	p := name
	if l.path != "" {
		p = l.path + "." + name
	}
	return location{path: p, record: record}
}

func (l location) suffix(s string) location {
	if l.path == "" {
		return location{path: s, record: l.record}
	}
	return location{path: l.path + s, record: l.record}
}

type resolver struct {
	rule string
	msgs []string
}

func (r *resolver) addf(loc location, format string, args ...any) {
	msg := loc.String() + ": " + fmt.Sprintf(format, args...)
	if r.rule != "" {
		msg += " (" + r.rule + ")"
	}
	r.msgs = append(r.msgs, msg)
}

func deref(s avro.Schema) avro.Schema {
	if ref, ok := s.(*avro.RefSchema); ok {
		return ref.Schema()
	}
	return s
}

// promotions lists, per writer primitive type, the reader types it may be
// read as besides itself (Avro spec, "Schema Resolution").
var promotions = map[avro.Type][]avro.Type{
	avro.Int:    {avro.Long, avro.Float, avro.Double},
	avro.Long:   {avro.Float, avro.Double},
	avro.Float:  {avro.Double},
	avro.String: {avro.Bytes},
	avro.Bytes:  {avro.String},
}

// matches reports whether writer can be read as reader without looking
// inside records, enums and fixed beyond their names and sizes: the test
// the spec uses to pick a reader union branch.
func matches(writer, reader avro.Schema) bool {
	w, rd := deref(writer), deref(reader)
	wt, rt := w.Type(), rd.Type()
	if wt == rt {
		switch wt {
		case avro.Record, avro.Enum:
			return namesMatch(w.(avro.NamedSchema), rd.(avro.NamedSchema))
		case avro.Fixed:
			return namesMatch(w.(avro.NamedSchema), rd.(avro.NamedSchema)) && w.(*avro.FixedSchema).Size() == rd.(*avro.FixedSchema).Size()
		}
		return true
	}
	for _, p := range promotions[wt] {
		if p == rt {
			return true
		}
	}
	return false
}

// namesMatch: the unqualified names are equal (as the Avro spec asks), or
// the reader lists the writer's name among its aliases (full or
// unqualified).
func namesMatch(writer, reader avro.NamedSchema) bool {
	if writer.Name() == reader.Name() {
		return true
	}
	for _, a := range reader.Aliases() {
		if a == writer.FullName() || shortName(a) == writer.Name() {
			return true
		}
	}
	return false
}

func shortName(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[i+1:]
	}
	return full
}

func (r *resolver) resolve(writer, reader avro.Schema, loc location) {
	w, rd := deref(writer), deref(reader)

	// A writer union: every branch the writer may have written must be
	// readable.
	if wu, ok := w.(*avro.UnionSchema); ok {
		for _, b := range wu.Types() {
			if ru, ok := rd.(*avro.UnionSchema); ok {
				if rb := pickBranch(b, ru); rb != nil {
					r.resolve(b, rb, loc)
				} else {
					r.addf(loc, "writer union branch %q matches no branch of reader type %q", describe(b), describe(rd))
				}
				continue
			}
			if !matches(b, rd) {
				r.addf(loc, "writer union branch %q cannot be read as reader type %q", describe(b), describe(rd))
				continue
			}
			r.resolve(b, rd, loc)
		}
		return
	}
	// A reader union: the first branch matching the writer type is used.
	if ru, ok := rd.(*avro.UnionSchema); ok {
		rb := pickBranch(w, ru)
		if rb == nil {
			r.addf(loc, "writer type %q matches no branch of reader type %q", describe(w), describe(rd))
			return
		}
		r.resolve(w, rb, loc)
		return
	}

	if !matches(w, rd) {
		if w.Type() == rd.Type() {
			if wf, ok := w.(*avro.FixedSchema); ok {
				rf := rd.(*avro.FixedSchema)
				if namesMatch(wf, rf) {
					r.addf(loc, "writer type %q has size %d, reader type %q has size %d", describe(w), wf.Size(), describe(rd), rf.Size())
					return
				}
			}
			r.addf(loc, "writer type %q cannot be read as reader type %q: names differ and the reader has no alias %q", describe(w), describe(rd), w.(avro.NamedSchema).FullName())
			return
		}
		r.addf(loc, "writer type %q cannot be read as reader type %q", describe(w), describe(rd))
		return
	}

	switch rs := rd.(type) {
	case *avro.RecordSchema:
		ws := w.(*avro.RecordSchema)
		for _, rf := range rs.Fields() {
			wf := findField(ws, rf)
			floc := loc.field(rs.FullName(), rf.Name())
			if wf == nil {
				if !rf.HasDefault() {
					r.addf(floc, "reader field has no default and writer type %q has no such field", describe(ws))
				}
				continue
			}
			r.resolve(wf.Type(), rf.Type(), floc)
		}
	case *avro.EnumSchema:
		ws := w.(*avro.EnumSchema)
		if rs.HasDefault() {
			return
		}
		var missing []string
		for _, sym := range ws.Symbols() {
			if !contains(rs.Symbols(), sym) {
				missing = append(missing, sym)
			}
		}
		if len(missing) > 0 {
			r.addf(loc, "writer type %q has symbols %s that reader type %q lacks, and the reader enum has no default", describe(ws), quoteAll(missing), describe(rs))
		}
	case *avro.ArraySchema:
		r.resolve(w.(*avro.ArraySchema).Items(), rs.Items(), loc.suffix("[]"))
	case *avro.MapSchema:
		r.resolve(w.(*avro.MapSchema).Values(), rs.Values(), loc.suffix("{}"))
	}
}

// pickBranch returns the reader branch the spec selects for writer type
// w: the first exact match, else the first match by promotion.
func pickBranch(w avro.Schema, ru *avro.UnionSchema) avro.Schema {
	wt := deref(w).Type()
	for _, b := range ru.Types() {
		if deref(b).Type() == wt && matches(w, b) {
			return b
		}
	}
	for _, b := range ru.Types() {
		if matches(w, b) {
			return b
		}
	}
	return nil
}

// findField finds the writer field a reader field reads: same name, or
// the writer's name among the reader field's aliases.
func findField(ws *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range ws.Fields() {
		if wf.Name() == rf.Name() {
			return wf
		}
	}
	for _, wf := range ws.Fields() {
		if contains(rf.Aliases(), wf.Name()) {
			return wf
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// describe names a type briefly for messages: "int", "long
// (timestamp-millis)", "record health.Clinic", "array<string>",
// "union[null, string]".
func describe(s avro.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case *avro.RecordSchema:
		return "record " + t.FullName()
	case *avro.EnumSchema:
		return "enum " + t.FullName()
	case *avro.FixedSchema:
		return fmt.Sprintf("fixed %s(%d)", t.FullName(), t.Size())
	case *avro.ArraySchema:
		return "array<" + describe(t.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + describe(t.Values()) + ">"
	case *avro.UnionSchema:
		parts := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			parts[i] = describe(b)
		}
		return "union[" + strings.Join(parts, ", ") + "]"
	case *avro.PrimitiveSchema:
		if l := t.Logical(); l != nil {
			return fmt.Sprintf("%s (%s)", t.Type(), l.Type())
		}
	}
	return string(s.Type())
}
