package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// A small model of Avro schemas for generating writer/reader pairs: a
// random writer, then a reader made by random schema-evolution mutations.
// The model renders to JSON, which both the registry and the plan parse.

type gnode struct {
	kind     string // Avro type name: null … bytes, record, enum, fixed, array, map, union
	logical  string
	name, ns string
	aliases  []string
	fields   []*gfield
	symbols  []string
	enumDef  string
	size     int
	items    *gnode
	branches []*gnode
}

type gfield struct {
	name    string
	aliases []string
	typ     *gnode
	hasDef  bool
}

var primitives = []string{"null", "boolean", "int", "long", "float", "double", "string", "bytes"}

// gen generates random schemas; seq keeps named types unique in a schema.
type gen struct {
	rng   *rand.Rand
	seq   int
	named []*gnode // enums and fixed defined so far, reusable by reference
}

func (g *gen) fresh(prefix string) string {
	g.seq++
	return fmt.Sprintf("%s%d", prefix, g.seq)
}

func (g *gen) namespace() string { return []string{"health", "civil", "legacy"}[g.rng.IntN(3)] }

func (g *gen) record(depth int) *gnode {
	n := &gnode{kind: "record", name: g.fresh("R"), ns: g.namespace()}
	for i, k := 0, 1+g.rng.IntN(4); i < k; i++ {
		n.fields = append(n.fields, &gfield{name: g.fresh("f"), typ: g.typ(depth + 1), hasDef: g.rng.IntN(3) == 0})
	}
	return n
}

func (g *gen) typ(depth int) *gnode {
	if depth > 3 {
		return g.primitive()
	}
	switch g.rng.IntN(12) {
	case 0:
		return g.record(depth)
	case 1:
		if len(g.named) > 0 && g.rng.IntN(2) == 0 {
			return g.named[g.rng.IntN(len(g.named))] // a second use: rendered as a reference
		}
		n := &gnode{kind: "enum", name: g.fresh("E"), ns: g.namespace(), symbols: []string{"A", "B", "C"}[:1+g.rng.IntN(3)]}
		g.named = append(g.named, n)
		return n
	case 2:
		n := &gnode{kind: "fixed", name: g.fresh("F"), ns: g.namespace(), size: 1 + g.rng.IntN(4)}
		g.named = append(g.named, n)
		return n
	case 3:
		return &gnode{kind: "array", items: g.nonNull(depth + 1)}
	case 4:
		return &gnode{kind: "map", items: g.typ(depth + 1)}
	case 5, 6:
		return g.union(depth)
	case 7:
		return &gnode{kind: "long", logical: "timestamp-millis"}
	}
	return g.primitive()
}

// nonNull: array items of type null encode to zero bytes, which the
// registry refuses.
func (g *gen) nonNull(depth int) *gnode {
	for {
		if t := g.typ(depth); t.kind != "null" {
			return t
		}
	}
}

func (g *gen) primitive() *gnode { return &gnode{kind: primitives[g.rng.IntN(len(primitives))]} }

// union builds a union of distinct unnamed kinds plus at most one named
// type, as Avro requires.
func (g *gen) union(depth int) *gnode {
	n := &gnode{kind: "union"}
	seen := map[string]bool{}
	for i, k := 0, 1+g.rng.IntN(3); i < k; i++ {
		b := g.typ(depth + 1)
		if b.kind == "union" || seen[b.kind] {
			continue
		}
		seen[b.kind] = true
		n.branches = append(n.branches, b)
	}
	if len(n.branches) == 0 {
		n.branches = []*gnode{{kind: "null"}}
	}
	return n
}

// clone copies a tree, keeping shared named types shared.
func clone(n *gnode, memo map[*gnode]*gnode) *gnode {
	if c, ok := memo[n]; ok {
		return c
	}
	c := *n
	memo[n] = &c
	c.aliases = append([]string(nil), n.aliases...)
	c.symbols = append([]string(nil), n.symbols...)
	c.fields = nil
	for _, f := range n.fields {
		cf := *f
		cf.aliases = append([]string(nil), f.aliases...)
		cf.typ = clone(f.typ, memo)
		c.fields = append(c.fields, &cf)
	}
	if n.items != nil {
		c.items = clone(n.items, memo)
	}
	c.branches = nil
	for _, b := range n.branches {
		c.branches = append(c.branches, clone(b, memo))
	}
	return &c
}

// mutate applies one random schema-evolution step somewhere in the tree.
func (g *gen) mutate(root *gnode) {
	var all []*gnode
	var walk func(n *gnode)
	walk = func(n *gnode) {
		all = append(all, n)
		for _, f := range n.fields {
			walk(f.typ)
		}
		if n.items != nil {
			walk(n.items)
		}
		for _, b := range n.branches {
			walk(b)
		}
	}
	walk(root)
	n := all[g.rng.IntN(len(all))]
	switch n.kind {
	case "record":
		g.mutateRecord(n)
	case "enum":
		g.mutateEnum(n)
	case "fixed":
		if g.rng.IntN(2) == 0 {
			n.size++
		} else {
			g.rename(n)
		}
	case "union":
		g.mutateUnion(n)
	default:
		g.mutateScalar(n)
	}
}

var promote = map[string][]string{
	"int": {"long", "float", "double"}, "long": {"float", "double", "int"}, "float": {"double", "long"},
	"double": {"float"}, "string": {"bytes"}, "bytes": {"string"}, "boolean": {"int"}, "null": {"boolean"},
}

func (g *gen) mutateScalar(n *gnode) {
	switch {
	case n.kind == "long" && n.logical != "":
		n.logical = "" // logical types resolve by their underlying type
	case n.kind == "array" || n.kind == "map":
		g.mutate(n.items)
	case len(promote[n.kind]) > 0:
		to := promote[n.kind]
		n.kind, n.logical = to[g.rng.IntN(len(to))], ""
	}
}

func (g *gen) mutateRecord(n *gnode) {
	switch g.rng.IntN(6) {
	case 0: // add a field, with or without a default
		n.fields = append(n.fields, &gfield{name: g.fresh("f"), typ: g.primitive(), hasDef: g.rng.IntN(2) == 0})
	case 1: // remove a field
		if len(n.fields) > 1 {
			i := g.rng.IntN(len(n.fields))
			n.fields = append(n.fields[:i], n.fields[i+1:]...)
		}
	case 2: // rename a field, with or without an alias
		f := n.fields[g.rng.IntN(len(n.fields))]
		if g.rng.IntN(2) == 0 {
			f.aliases = append(f.aliases, f.name)
		}
		f.name = g.fresh("g")
	case 3:
		g.rename(n)
	case 4: // toggle a default
		f := n.fields[g.rng.IntN(len(n.fields))]
		f.hasDef = !f.hasDef
	case 5: // wrap a field in a union with null
		f := n.fields[g.rng.IntN(len(n.fields))]
		if f.typ.kind != "union" && f.typ.kind != "null" {
			f.typ = &gnode{kind: "union", branches: []*gnode{{kind: "null"}, f.typ}}
		}
	}
}

// rename renames a named type: with a full-name alias, with an unqualified
// alias (relative to the new namespace), with an alias whose short name only
// matches (another namespace), into another namespace, or with no alias.
func (g *gen) rename(n *gnode) {
	old, oldNS := n.name, n.ns
	switch g.rng.IntN(5) {
	case 0:
		n.name = g.fresh(old + "x")
		n.aliases = append(n.aliases, oldNS+"."+old)
	case 1:
		n.name = g.fresh(old + "x")
		n.aliases = append(n.aliases, old)
	case 2:
		n.name = g.fresh(old + "x")
		n.aliases = append(n.aliases, "other."+old)
	case 3:
		n.ns = "other"
	case 4:
		n.name = g.fresh(old + "x")
	}
}

func (g *gen) mutateEnum(n *gnode) {
	switch g.rng.IntN(4) {
	case 0:
		n.symbols = append(n.symbols, g.fresh("S"))
	case 1:
		if len(n.symbols) > 1 {
			i := g.rng.IntN(len(n.symbols))
			n.symbols = append(n.symbols[:i], n.symbols[i+1:]...)
			if n.enumDef != "" && !containsString(n.symbols, n.enumDef) {
				n.enumDef = ""
			}
		}
	case 2:
		n.enumDef = n.symbols[0]
	case 3:
		g.rename(n)
	}
}

func (g *gen) mutateUnion(n *gnode) {
	switch {
	case g.rng.IntN(2) == 0 && len(n.branches) > 1: // remove a branch
		i := g.rng.IntN(len(n.branches))
		n.branches = append(n.branches[:i], n.branches[i+1:]...)
	default: // add a primitive branch the union lacks
		p := g.primitive()
		for _, b := range n.branches {
			if b.kind == p.kind {
				g.mutate(b)
				return
			}
		}
		n.branches = append(n.branches, p)
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// render writes the tree as Avro JSON; a named type's second use is a
// reference by full name.
func render(n *gnode) string {
	var b strings.Builder
	renderTo(&b, n, map[string]bool{})
	return b.String()
}

func renderTo(b *strings.Builder, n *gnode, defined map[string]bool) {
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	full := n.ns + "." + n.name
	switch n.kind {
	case "record", "enum", "fixed":
		if defined[full] {
			b.WriteString(q(full))
			return
		}
		defined[full] = true
		fmt.Fprintf(b, `{"type":%q,"name":%s,"namespace":%s`, n.kind, q(n.name), q(n.ns))
		if len(n.aliases) > 0 {
			a, _ := json.Marshal(n.aliases)
			fmt.Fprintf(b, `,"aliases":%s`, a)
		}
	}
	switch n.kind {
	case "record":
		b.WriteString(`,"fields":[`)
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, `{"name":%s,"type":`, q(f.name))
			renderTo(b, f.typ, defined)
			if len(f.aliases) > 0 {
				a, _ := json.Marshal(f.aliases)
				fmt.Fprintf(b, `,"aliases":%s`, a)
			}
			if f.hasDef {
				b.WriteString(`,"default":` + defaultJSON(f.typ))
			}
			b.WriteByte('}')
		}
		b.WriteString("]}")
	case "enum":
		s, _ := json.Marshal(n.symbols)
		fmt.Fprintf(b, `,"symbols":%s`, s)
		if n.enumDef != "" {
			fmt.Fprintf(b, `,"default":%s`, q(n.enumDef))
		}
		b.WriteByte('}')
	case "fixed":
		fmt.Fprintf(b, `,"size":%d}`, n.size)
	case "array":
		b.WriteString(`{"type":"array","items":`)
		renderTo(b, n.items, defined)
		b.WriteByte('}')
	case "map":
		b.WriteString(`{"type":"map","values":`)
		renderTo(b, n.items, defined)
		b.WriteByte('}')
	case "union":
		b.WriteByte('[')
		for i, br := range n.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			renderTo(b, br, defined)
		}
		b.WriteByte(']')
	default:
		if n.logical != "" {
			fmt.Fprintf(b, `{"type":%q,"logicalType":%q}`, n.kind, n.logical)
			return
		}
		b.WriteString(q(n.kind))
	}
}

// defaultJSON is a valid default for a field of type n (a union's default
// belongs to its first branch).
func defaultJSON(n *gnode) string {
	switch n.kind {
	case "null":
		return "null"
	case "boolean":
		return "false"
	case "int", "long", "float", "double":
		return "1"
	case "string", "bytes":
		return `"d"`
	case "enum":
		return `"` + n.symbols[0] + `"`
	case "fixed":
		return `"` + strings.Repeat("a", n.size) + `"`
	case "array":
		return "[]"
	case "map":
		return "{}"
	case "union":
		return defaultJSON(n.branches[0])
	}
	parts := make([]string, len(n.fields)) // record
	for i, f := range n.fields {
		parts[i] = fmt.Sprintf("%q:%s", f.name, defaultJSON(f.typ))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
