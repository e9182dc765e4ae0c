package agreements

import (
	"bytes"
	"errors"
)

// Document is one `---`-separated document of a YAML file, with its text as
// written: the unit a store keeps versions of.
type Document struct {
	Kind string // KindAgency, KindDataContract, KindAgreement or KindCalendar
	ID   string // the agency id, dataset id, agreement id or calendar id
	// Status is an agreement's status as written (draft when absent).
	Status Status
	Line   int    // line of the document's first line in the file, 1-based
	YAML   []byte // the document's text, without the `---` separator
}

// SplitDocuments splits a file into its documents and decodes each, so that
// a caller can store every document as written while problems still point
// at the right line of the file. Empty documents (comments only) are
// skipped. Decoding problems come back as a Problems error together with the
// documents that decoded, as with Load; a document without a recognised kind
// is not returned.
func SplitDocuments(name string, data []byte) ([]Document, *Set, error) {
	var (
		docs  []Document
		probs Problems
		set   = &Set{}
	)
	lines := bytes.SplitAfter(data, []byte("\n"))
	start := 0 // index of the current document's first line
	flush := func(end int) {
		chunk := bytes.Join(lines[start:end], nil)
		firstLine := start + 1
		start = end + 1 // skip the separator
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			return
		}
		s, err := loadAt(name, chunk, firstLine-1)
		var ps Problems
		if errors.As(err, &ps) {
			probs = append(probs, ps...)
		}
		set.Merge(s)
		doc := Document{Line: firstLine, YAML: chunk}
		switch {
		case s == nil:
			return
		case len(s.Agencies) == 1:
			doc.Kind, doc.ID = KindAgency, s.Agencies[0].ID
		case len(s.Contracts) == 1:
			doc.Kind, doc.ID = KindDataContract, s.Contracts[0].Dataset
		case len(s.Agreements) == 1:
			doc.Kind, doc.ID, doc.Status = KindAgreement, s.Agreements[0].ID, s.Agreements[0].Status
		case len(s.Calendars) == 1:
			doc.Kind, doc.ID = KindCalendar, s.Calendars[0].ID
		default:
			return
		}
		docs = append(docs, doc)
	}
	for i, l := range lines {
		if isSeparator(l) {
			flush(i)
		}
	}
	if start < len(lines) {
		flush(len(lines))
	}
	if len(probs) > 0 {
		probs.Sort()
		return docs, set, probs
	}
	return docs, set, nil
}

// isSeparator reports a `---` line (optionally followed by spaces or a
// comment), the YAML document marker.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// stripComments drops full-line comments, to tell an empty document.
func stripComments(chunk []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(chunk, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] == '#' {
			continue
		}
		out = append(out, l...)
	}
	return out
}
