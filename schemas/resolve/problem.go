package resolve

import "fmt"

// Kind classifies a problem.
type Kind uint8

const (
	// Mismatch: a writer value's type cannot be read as the reader's type.
	Mismatch Kind = iota
	// MissingField: a reader field the writer lacks has no default.
	MissingField
	// MissingSymbols: writer enum symbols the reader lacks, and the reader
	// enum has no default. Only values holding those symbols are unreadable.
	MissingSymbols
	// TooDeep: the walk passed its depth bound (a recursive schema, or one
	// nested deeper than the reader accepts). Resolve stops at the first.
	TooDeep
)

// Problem is one reason some writer data cannot be read with the reader.
type Problem struct {
	Kind   Kind
	Path   string // dotted reader field path from the root ("" at the root); "[]" array items, "{}" map values
	Record string // full name of the reader record holding the field
	Msg    string
}

// Location names where the problem is: "schema root" or
// `field "clinic.region" (record health.Clinic)`.
func (p Problem) Location() string { return location{path: p.Path, record: p.Record}.String() }

// String is the location and the message, as the registry reports it.
func (p Problem) String() string { return p.Location() + ": " + p.Msg }

// location is where the walk is: a field path and the record holding it.
type location struct {
	path   string
	record string
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
