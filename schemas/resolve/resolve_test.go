package resolve

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

func parse(t *testing.T, s string) avro.Schema {
	t.Helper()
	sch, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parsing %s: %v", s, err)
	}
	return sch
}

func problems(t *testing.T, writer, reader string) string {
	t.Helper()
	_, ps := Resolve(parse(t, writer), parse(t, reader), 0)
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n")
}

// TestNamesMatch: unqualified names, or a reader alias naming the writer's
// full name (an unqualified alias is in the reader's namespace).
func TestNamesMatch(t *testing.T) {
	writer := `{"type":"fixed","name":"Hash","namespace":"health","size":4}`
	reader := func(name, ns, aliases string) string {
		return fmt.Sprintf(`{"type":"fixed","name":%q,"namespace":%q,"aliases":[%s],"size":4}`, name, ns, aliases)
	}
	cases := []struct {
		reader string
		want   bool
	}{
		{reader("Hash", "health", ""), true},
		{reader("Hash", "civil", ""), true}, // unqualified names equal: another namespace reads
		{reader("Digest", "health", `"health.Hash"`), true},
		{reader("Digest", "health", `"Hash"`), true},
		{reader("Digest", "civil", `"Hash"`), false}, // means civil.Hash
		{reader("Digest", "health", `"legacy.Hash"`), false},
		{reader("Digest", "health", ""), false},
	}
	for _, tc := range cases {
		got := problems(t, writer, tc.reader) == ""
		if got != tc.want {
			t.Errorf("%s reads %s: %v, want %v", tc.reader, writer, got, tc.want)
		}
	}
}

// TestReaderUnionBranch: a value lands in the same-type branch before a
// promoted one, and in a branch that resolves cleanly before one that
// matches by name but not in content.
func TestReaderUnionBranch(t *testing.T) {
	for _, tc := range []struct {
		writer, reader string
		branch         int
	}{
		{`"int"`, `["null","long","int"]`, 2},
		{`"int"`, `["null","double","long"]`, 1},
		{`{"type":"enum","name":"E","symbols":["A","B"]}`,
			`[{"type":"enum","name":"E","symbols":["A"]},{"type":"enum","name":"F","aliases":["E"],"symbols":["A","B"]}]`, 1},
	} {
		root, ps := Resolve(parse(t, tc.writer), parse(t, tc.reader), 0)
		if len(ps) != 0 || root.ReaderBranch != tc.branch {
			t.Errorf("%s in %s: branch %d, problems %v; want branch %d", tc.writer, tc.reader, root.ReaderBranch, ps, tc.branch)
		}
	}
}

// TestTree: the tree a decoder compiles: writer fields in writer order
// (skipped ones marked), reader defaults, enum mapping, union branches.
func TestTree(t *testing.T) {
	writer := `{"type":"record","name":"R","fields":[
		{"name":"gone","type":"string"},
		{"name":"old","type":"int"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
		{"name":"u","type":["null","int","boolean"]}]}`
	reader := `{"type":"record","name":"R","fields":[
		{"name":"u","type":["null","long"]},
		{"name":"new","aliases":["old"],"type":"double"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["C","A","Z"],"default":"Z"}},
		{"name":"extra","type":"string","default":"x"}]}`
	root, ps := Resolve(parse(t, writer), parse(t, reader), 0)
	var got []string
	for _, f := range root.Fields {
		got = append(got, fmt.Sprintf("%s→%d", f.Writer.Name(), f.Reader))
	}
	for _, m := range root.Missing {
		got = append(got, fmt.Sprintf("default %s→%d", m.Field.Name(), m.Reader))
	}
	got = append(got, fmt.Sprint(root.Fields[2].Node.EnumMap))
	for _, b := range root.Fields[3].Node.Branches {
		got = append(got, fmt.Sprintf("branch %s→%d %v", b.Writer.Type(), b.ReaderBranch, b.Problem != nil))
	}
	want := "gone→-1 old→1 e→2 u→0 default extra→3 [1 2 0] branch null→0 false branch int→1 false branch boolean→-1 true"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("tree:\n got %s\nwant %s", s, want)
	}
	if len(ps) != 1 || !strings.Contains(ps[0].String(), `field "u" (record R): writer union branch "boolean" matches no branch of reader type "union[null, long]"`) {
		t.Errorf("problems = %v", ps)
	}
}

// TestRecursiveSchemaStops: the depth bound ends the walk with one TooDeep
// problem.
func TestRecursiveSchemaStops(t *testing.T) {
	s := parse(t, `{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}`)
	_, ps := Resolve(s, s, 16)
	if len(ps) != 1 || ps[0].Kind != TooDeep {
		t.Fatalf("problems = %v, want one TooDeep", ps)
	}
}
