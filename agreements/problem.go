package agreements

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one validation finding, positioned in its source file.
type Problem struct {
	Pos     Pos
	Message string // what is wrong, naming the field, rule or key
	Hint    string // how to fix it; may be empty
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Pos.File != "" || p.Pos.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", p.Pos.File, p.Pos.Line, p.Pos.Column)
	}
	b.WriteString(p.Message)
	if p.Hint != "" {
		b.WriteString(" (hint: ")
		b.WriteString(p.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Problems is a list of findings; as an error it reports every one, one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the problems by file, line, column, then message.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		return a.Message < b.Message
	})
}

// String renders a position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column) }
