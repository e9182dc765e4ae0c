package publish

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Format is the input format of Run.
type Format int

const (
	// JSONLines is one JSON object per line (the default).
	JSONLines Format = iota
	// CSV is RFC 4180 CSV with a header row naming the fields.
	CSV
)

// ParseFormat reads a --format value: "jsonl" (also "json") or "csv".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "jsonl", "json":
		return JSONLines, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("unknown format %q (want csv or jsonl)", s)
}

func (f Format) String() string {
	if f == CSV {
		return "csv"
	}
	return "jsonl"
}

// ColumnError is a CSV cell that does not fit its field. Field is the path
// inside the record ("birth_date", or "address.city" for a JSON cell).
type ColumnError struct {
	Column int // 1-based
	Field  string
	Msg    string
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("column %d (%s): %s", e.Column, e.Field, e.Msg)
}

// csvColumn is one header column: the field it fills and that field's type.
type csvColumn struct {
	field string
	typ   avro.Schema
	// emptyIsDefault: an empty cell takes the field's default (a field with
	// a default that is not nullable and not text, where "" is a value).
	emptyIsDefault bool
	// emptyIsError: an empty cell is an error (a number, boolean, date...
	// with neither null nor a default to stand for "no value").
	emptyIsError bool
}

// newCSVColumn classifies field f for empty cells.
func newCSVColumn(f *avro.Field) csvColumn {
	c := csvColumn{field: f.Name(), typ: f.Type()}
	t := f.Type()
	if ref, ok := t.(*avro.RefSchema); ok {
		t = ref.Schema()
	}
	switch t.Type() {
	case avro.Union, avro.String, avro.Bytes, avro.Enum, avro.Fixed:
		return c
	}
	c.emptyIsDefault = f.HasDefault()
	c.emptyIsError = !f.HasDefault()
	return c
}

// csvSource reads CSV records with a header row and encodes them.
type csvSource struct {
	r    *csv.Reader
	enc  *Encoder
	cols []csvColumn
	rec  []string // the record last read
	line int      // its first line
}

// newCSVSource reads the header row and maps it to the encoder's record
// fields. Every column must name a field (or an alias); every field without
// a default must have a column; so must an explicit key field.
func newCSVSource(r io.Reader, enc *Encoder) (*csvSource, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("line 1: empty input, expected a CSV header row")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the CSV header row: %w", err)
	}
	header = append([]string(nil), header...)
	header[0] = strings.TrimPrefix(header[0], "\uFEFF") // a BOM, as spreadsheets write
	cols, err := mapHeader(header, enc)
	if err != nil {
		return nil, fmt.Errorf("line 1 (CSV header): %w", err)
	}
	return &csvSource{r: cr, enc: enc, cols: cols}, nil
}

func mapHeader(header []string, enc *Encoder) ([]csvColumn, error) {
	rec := enc.schema.Avro.(*avro.RecordSchema)
	byName := map[string]*avro.Field{}
	for _, f := range rec.Fields() {
		byName[f.Name()] = f
		for _, a := range f.Aliases() {
			byName[a] = f
		}
	}
	cols := make([]csvColumn, len(header))
	seen := map[string]int{}
	for i, h := range header {
		f, ok := byName[h]
		if !ok {
			return nil, fmt.Errorf("column %d %q is not a field of record %s", i+1, h, rec.FullName())
		}
		if j, dup := seen[f.Name()]; dup {
			return nil, fmt.Errorf("columns %d and %d both fill field %q", j+1, i+1, f.Name())
		}
		seen[f.Name()] = i
		cols[i] = newCSVColumn(f)
	}
	var missing []string
	for _, f := range rec.Fields() {
		if _, ok := seen[f.Name()]; !ok && !f.HasDefault() && f.Name() != enc.stampField {
			missing = append(missing, f.Name())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no column for required field(s) %s (record %s; only fields with a default may be left out)",
			strings.Join(missing, ", "), rec.FullName())
	}
	if _, ok := seen[enc.keyField]; enc.keyRequired && !ok {
		return nil, fmt.Errorf("no column for the key field %q", enc.keyField)
	}
	return cols, nil
}

// read advances to the next record and returns its first line. A record
// that does not parse (a ragged row, a bare quote) is a *LineError.
func (s *csvSource) read() (int, error) {
	rec, err := s.r.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
		// FieldPos is only valid for a record read without error.
		s.line, _ = s.r.FieldPos(0)
		s.rec = rec
		return s.line, nil
	case errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount):
		return pe.StartLine, &LineError{Line: pe.StartLine, Err: fmt.Errorf("%d columns, the header has %d", len(rec), len(s.cols))}
	case errors.As(err, &pe):
		at := fmt.Sprintf("character %d", pe.Column)
		if pe.Line != pe.StartLine {
			at = fmt.Sprintf("line %d, character %d", pe.Line, pe.Column)
		}
		return pe.StartLine, &LineError{Line: pe.StartLine, Err: fmt.Errorf("CSV syntax error at %s: %w", at, pe.Err)}
	}
	return 0, err
}

// encode converts the record last read. Errors are *ColumnError.
func (s *csvSource) encode() (key, value []byte, err error) {
	obj := make(map[string]any, len(s.cols))
	for i, c := range s.cols {
		cell := s.rec[i]
		if strings.TrimSpace(cell) == "" {
			switch {
			case c.emptyIsDefault:
				continue // hamba/avro writes the default of an absent field
			case c.emptyIsError:
				return nil, nil, &ColumnError{Column: i + 1, Field: c.field,
					Msg: fmt.Sprintf("empty, and the field (%s) is neither nullable nor has a default", c.typ.Type())}
			}
		}
		v, err := cellValue(c.typ, cell)
		if err != nil {
			return nil, nil, &ColumnError{Column: i + 1, Field: c.field, Msg: err.Error()}
		}
		obj[c.field] = v
	}
	native, err := Convert(s.enc.schema.Avro, obj)
	if err == nil {
		key, value, err = s.enc.finish(obj, native.(map[string]any))
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return nil, nil, s.columnError(fe)
	}
	return key, value, err
}

// columnError names the column of a field error by the path's first field.
func (s *csvSource) columnError(fe *FieldError) error {
	top := fe.Field
	if i := strings.IndexAny(top, ".["); i >= 0 {
		top = top[:i]
	}
	for i, c := range s.cols {
		if c.field == top {
			return &ColumnError{Column: i + 1, Field: fe.Field, Msg: fe.Msg}
		}
	}
	return fe
}

// cellValue turns a CSV cell into the JSON-decoded value Convert takes for
// type s: text as a string for strings, enums, bytes, uuid and decimals;
// numbers as json.Number; booleans by strconv.ParseBool; dates, times and
// timestamps as a string (ISO) or a json.Number (epoch count); arrays,
// maps and records as a JSON document in the cell. In a nullable union an
// empty cell is null, anything else is the non-null branch's value.
func cellValue(s avro.Schema, cell string) (any, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch sc := s.(type) {
	case *avro.UnionSchema:
		var branches []avro.Schema
		for _, t := range sc.Types() {
			if t.Type() != avro.Null {
				branches = append(branches, t)
			}
		}
		switch {
		case cell == "" && len(branches) < len(sc.Types()):
			return nil, nil
		case len(branches) == 1:
			return cellValue(branches[0], cell)
		}
		return guessCell(branches, cell), nil
	case *avro.RecordSchema, *avro.ArraySchema, *avro.MapSchema:
		return jsonCell(s.Type(), cell)
	case *avro.PrimitiveSchema:
		return primitiveCell(sc, cell), nil
	}
	return cell, nil
}

func primitiveCell(sc *avro.PrimitiveSchema, cell string) any {
	t := strings.TrimSpace(cell)
	if l := sc.Logical(); l != nil {
		switch l.Type() {
		case avro.Decimal, avro.UUID:
			return t
		}
		if isJSONNumber(t) { // epoch count; ISO text stays a string
			return json.Number(t)
		}
		return t
	}
	switch sc.Type() {
	case avro.Int, avro.Long, avro.Float, avro.Double:
		if isJSONNumber(t) {
			return json.Number(t)
		}
		return t // "NaN", "Infinity", or text Convert reports
	case avro.Boolean:
		if b, err := strconv.ParseBool(t); err == nil {
			return b
		}
		return t
	}
	return cell // strings and bytes keep their spaces
}

// guessCell types a cell for a union of several non-null branches: a number
// when a numeric branch exists and the cell is one, likewise a boolean,
// else text; Convert then takes the first branch it fits.
func guessCell(branches []avro.Schema, cell string) any {
	t := strings.TrimSpace(cell)
	for _, b := range branches {
		switch b.Type() {
		case avro.Int, avro.Long, avro.Float, avro.Double:
			if isJSONNumber(t) {
				return json.Number(t)
			}
		case avro.Boolean:
			if t == "true" || t == "false" {
				return t == "true"
			}
		}
	}
	return cell
}

func jsonCell(typ avro.Type, cell string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(cell))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("expected %s as JSON in the cell, got %s (%v)", typ, quote(cell), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("expected %s as JSON in the cell, got more than one JSON value", typ)
	}
	return v, nil
}

// isJSONNumber says whether s is a JSON number literal.
func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}
