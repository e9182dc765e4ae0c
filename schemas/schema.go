package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/exchange-gov/exchange/schemas/resolve"
	"github.com/hamba/avro/v2"
)

// Limits applied to every schema the registry accepts. They keep decoding
// of hostile payloads bounded: with no recursion and a bounded depth, the
// decoder's stack depth is bounded too.
const (
	// maxSchemaDepth limits nested types (record in record, array of
	// array, ...).
	maxSchemaDepth = 32
	// maxSchemaBytes bounds the size of a schema's JSON text.
	maxSchemaBytes = 1 << 20
	// maxJSONDepth bounds JSON nesting before hamba's parser sees the text;
	// every Avro level costs at most four JSON levels.
	jsonDepthPerLevel = 4
)

// Schema is a registered schema: its global id, its text as the registry
// returns it, and the parsed form.
type Schema struct {
	ID   int
	Text string
	Avro avro.Schema
}

// SchemaVersion is one version of a subject with its parsed schema.
type SchemaVersion struct {
	Subject string
	Version int
	ID      int
	Text    string
	Avro    avro.Schema
	Deleted bool
}

// parsed is a schema after validation: the parsed form, the normalised
// text (hamba's full JSON form: names fully qualified, defaults, aliases
// and logical types kept, whitespace removed, properties sorted) and the
// identity fingerprint (SHA-256 of that text, hex).
type parsed struct {
	schema      avro.Schema
	text        string
	fingerprint string
}

// parseSchema validates and parses schemaJSON with the given depth limit.
func parseSchema(schemaJSON string, maxDepth int) (*parsed, error) {
	if len(schemaJSON) > maxSchemaBytes {
		return nil, &InvalidSchemaError{Reason: fmt.Sprintf("schema is %d bytes, limit %d", len(schemaJSON), maxSchemaBytes)}
	}
	if err := checkJSON(schemaJSON, maxDepth*jsonDepthPerLevel+2); err != nil {
		return nil, err
	}
	s, err := parseAvro(schemaJSON)
	if err != nil {
		return nil, &InvalidSchemaError{Reason: "does not parse as Avro", Err: err}
	}
	if err := checkDepth(s, maxDepth); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, &InvalidSchemaError{Reason: "cannot normalise", Err: err}
	}
	sum := sha256.Sum256(b)
	return &parsed{schema: s, text: string(b), fingerprint: hex.EncodeToString(sum[:])}, nil
}

// parseAvro parses with hamba/avro, turning a panic of its parser into an
// error: schema text comes from outside (the REST API), and hamba v2.31.0
// indexes past the end of an empty union when checking a field default
// (found by FuzzParseSchema: testdata/fuzz/FuzzParseSchema/bb69b5308e402d59).
func parseAvro(schemaJSON string) (s avro.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("avro parser fault: %v", r)
		}
	}()
	// A fresh cache per parse: hamba's default cache is global, and named
	// types of one registered schema must not leak into another.
	return avro.ParseBytesWithCache([]byte(schemaJSON), "", &avro.SchemaCache{})
}

// checkJSON requires schemaJSON to be one JSON value nested at most
// maxDepth deep. hamba would otherwise read non-JSON text as a type name,
// and its recursive parser has no depth limit of its own.
func checkJSON(schemaJSON string, maxDepth int) error {
	// JSON is UTF-8; invalid bytes would also make normalisation unstable
	// (replaced by an escaped U+FFFD once, a literal one the next time).
	if !utf8.ValidString(schemaJSON) {
		return &InvalidSchemaError{Reason: "not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(schemaJSON)))
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &InvalidSchemaError{Reason: "not valid JSON", Err: err}
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
				if depth > maxDepth {
					return &InvalidSchemaError{Reason: fmt.Sprintf("JSON nested deeper than %d levels", maxDepth)}
				}
			default:
				depth--
			}
		}
	}
	if dec.InputOffset() == 0 {
		return &InvalidSchemaError{Reason: "empty schema"}
	}
	var v any
	if err := json.Unmarshal([]byte(schemaJSON), &v); err != nil {
		return &InvalidSchemaError{Reason: "not valid JSON (want exactly one value)", Err: err}
	}
	return nil
}

// checkDepth rejects recursive named types, nesting deeper than max and
// arrays of zero-sized items.
// A recursive schema (a record holding itself) lets a payload drive the
// decoder's recursion as deep as the payload is long.
func checkDepth(s avro.Schema, max int) error {
	var walk func(s avro.Schema, depth int, path []string) error
	walk = func(s avro.Schema, depth int, path []string) error {
		if depth > max {
			return &InvalidSchemaError{Reason: fmt.Sprintf("types nested deeper than %d levels", max)}
		}
		switch t := s.(type) {
		case *avro.RefSchema:
			name := t.Schema().FullName()
			for _, p := range path {
				if p == name {
					return &InvalidSchemaError{Reason: fmt.Sprintf("recursive type %q is not accepted (it makes decoding depth unbounded)", name)}
				}
			}
			return walk(t.Schema(), depth, path)
		case *avro.RecordSchema:
			path = append(path, t.FullName())
			for _, f := range t.Fields() {
				if err := walk(f.Type(), depth+1, path); err != nil {
					return err
				}
			}
		case *avro.ArraySchema:
			if zeroSized(t.Items()) {
				return &InvalidSchemaError{Reason: fmt.Sprintf("array items of type %q encode to zero bytes: a few bytes of input could claim millions of them", resolve.Describe(t.Items()))}
			}
			return walk(t.Items(), depth+1, path)
		case *avro.MapSchema:
			return walk(t.Values(), depth+1, path)
		case *avro.UnionSchema:
			for _, b := range t.Types() {
				if err := walk(b, depth+1, path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(s, 0, nil)
}

// zeroSized reports whether values of s encode to no bytes at all (null,
// fixed of size 0, records of such fields). Arrays of them are refused:
// the item count of an array is then not bounded by the input's length.
func zeroSized(s avro.Schema) bool {
	switch t := resolve.Deref(s).(type) {
	case *avro.NullSchema:
		return true
	case *avro.FixedSchema:
		return t.Size() == 0
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			if !zeroSized(f.Type()) {
				return false
			}
		}
		return true
	}
	return false
}

// ParseSchema parses an Avro schema JSON with the registry's limits
// (types nested at most 32 deep, no recursive types). The schema's named types
// do not leak into hamba's global cache.
func ParseSchema(schemaJSON string) (avro.Schema, error) {
	p, err := parseSchema(schemaJSON, maxSchemaDepth)
	if err != nil {
		return nil, err
	}
	return p.schema, nil
}
