package resolve

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// promotions lists, per writer primitive type, the reader types it may be
// read as besides itself (Avro spec, "Schema Resolution").
var promotions = map[avro.Type][]avro.Type{
	avro.Int:    {avro.Long, avro.Float, avro.Double},
	avro.Long:   {avro.Float, avro.Double},
	avro.Float:  {avro.Double},
	avro.String: {avro.Bytes},
	avro.Bytes:  {avro.String},
}

// matches reports whether a writer value can be read as reader without
// looking inside records, arrays and maps: the spec's "match" test, also
// used to pick reader union branches. Logical types do not take part: a
// value is resolved by its underlying type.
func matches(writer, reader avro.Schema) bool {
	w, r := Deref(writer), Deref(reader)
	wt, rt := w.Type(), r.Type()
	if wt == rt {
		switch wt {
		case avro.Record, avro.Enum:
			return namesMatch(w.(avro.NamedSchema), r.(avro.NamedSchema))
		case avro.Fixed:
			return namesMatch(w.(avro.NamedSchema), r.(avro.NamedSchema)) && w.(*avro.FixedSchema).Size() == r.(*avro.FixedSchema).Size()
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

// namesMatch decides whether named types match, as the Avro 1.11 spec and
// Java's SchemaCompatibility.schemaNameEquals do: the unqualified names are
// equal ("both schemas are records with the same (unqualified) name"), or
// one of the reader's aliases equals the writer's full name.
//
// Aliases are full names: the spec makes an unqualified alias relative to
// the namespace of the type that holds it, and hamba/avro qualifies them so
// when it parses. A reader health.Vaccination with alias
// "legacy.Immunisation" therefore does not read a writer
// health.Immunisation: only the alias's short name agrees, and Java refuses
// that pair too. (The registry used to accept it while the policy's reader
// refused it; see TestAliasShortNameIsNotAMatch.)
func namesMatch(writer, reader avro.NamedSchema) bool {
	if writer.Name() == reader.Name() {
		return true
	}
	return indexOf(reader.Aliases(), writer.FullName()) >= 0
}

// mismatch words why writer cannot be read as reader, in the registry's
// established messages.
func mismatch(w, r avro.Schema, what string) string {
	if what == writerType && w.Type() == r.Type() {
		if wf, ok := w.(*avro.FixedSchema); ok {
			rf := r.(*avro.FixedSchema)
			if namesMatch(wf, rf) {
				return fmt.Sprintf("writer type %q has size %d, reader type %q has size %d", Describe(w), wf.Size(), Describe(r), rf.Size())
			}
		}
		return fmt.Sprintf("writer type %q cannot be read as reader type %q: names differ and the reader has no alias %q", Describe(w), Describe(r), w.(avro.NamedSchema).FullName())
	}
	return fmt.Sprintf("%s %q cannot be read as reader type %q", what, Describe(w), Describe(r))
}

// Describe names a type briefly for messages: "int", "long
// (timestamp-millis)", "record health.Clinic", "array<string>",
// "union[null, string]".
func Describe(s avro.Schema) string {
	s = Deref(s)
	switch t := s.(type) {
	case *avro.RecordSchema:
		return "record " + t.FullName()
	case *avro.EnumSchema:
		return "enum " + t.FullName()
	case *avro.FixedSchema:
		return fmt.Sprintf("fixed %s(%d)", t.FullName(), t.Size())
	case *avro.ArraySchema:
		return "array<" + Describe(t.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + Describe(t.Values()) + ">"
	case *avro.UnionSchema:
		parts := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			parts[i] = Describe(b)
		}
		return "union[" + strings.Join(parts, ", ") + "]"
	case *avro.PrimitiveSchema:
		if l := t.Logical(); l != nil {
			return fmt.Sprintf("%s (%s)", t.Type(), l.Type())
		}
	}
	return string(s.Type())
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
