package agreements

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// MaxFileSize bounds one YAML file; policy files are small, and a bound keeps
// a mistaken argument (a log file, a dump) from being read whole.
const MaxFileSize = 8 << 20

// LoadDir loads every *.yaml and *.yml file directly inside dir (not
// recursively, skipping hidden files), in name order, and merges them into
// one Set.
//
// As with Load, decoding problems come back as a Problems error together with
// the partially decoded Set; I/O errors come back with a nil Set.
func LoadDir(dir string) (*Set, error) {
	paths, err := Files(dir)
	if err != nil {
		return nil, err
	}
	return LoadFiles(paths...)
}

// Files lists the files LoadDir reads: every *.yaml and *.yml file directly
// inside dir, hidden files (editor backups and lock files) skipped, in name
// order.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("loading policy directory %s: %w", dir, err)
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // hidden files: editor backups and lock files
		}
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// LoadFiles loads each file and merges the results. Decoding problems of all
// files are collected into one Problems error returned with the merged Set.
func LoadFiles(paths ...string) (*Set, error) {
	set := &Set{}
	var probs Problems
	for _, p := range paths {
		s, err := LoadFile(p)
		var ps Problems
		switch {
		case errors.As(err, &ps):
			probs = append(probs, ps...)
		case err != nil:
			return nil, err
		}
		set.Merge(s)
	}
	if len(probs) > 0 {
		probs.Sort()
		return set, probs
	}
	return set, nil
}

// LoadFile reads and decodes one YAML file; see Load.
func LoadFile(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("loading %s: file larger than %d bytes", path, MaxFileSize)
	}
	return Load(path, data)
}

// Load decodes the YAML documents in data (separated by `---`); name is the
// file name used in positions. Each document is an Agency, a DataContract or
// an Agreement, chosen by its `kind:` key.
//
// Decoding is strict: an unknown key, a value of the wrong shape, a bad
// duration or timestamp is a Problem with its position and a hint. Load
// decodes as much as it can and returns every such problem at once as a
// Problems error, together with the partial Set, so a caller can still run
// Validate and report everything in one go. A nil error means the YAML was
// well-formed; semantic checks are Validate's.
//
// Defaults filled in for absent keys: a quality rule's severity is error,
// freshness on_stale is quarantine, an agreement's status is draft.
func Load(name string, data []byte) (*Set, error) {
	return loadAt(name, data, 0)
}

func loadAt(name string, data []byte, lineOffset int) (*Set, error) {
	d := &decoder{file: name, lines: bytes.Split(data, []byte("\n")), lineOffset: lineOffset}
	set := &Set{}
	d.decodeStream(data, set)
	if len(d.probs) > 0 {
		d.probs.Sort()
		return set, d.probs
	}
	return set, nil
}

type decoder struct {
	file  string
	lines [][]byte
	probs Problems
	// invalid collects, per document, the YAML paths whose values had a
	// problem; see mapping.
	invalid map[string]bool
	// lineOffset is added to every line: data starts after that many lines
	// of the file (SplitDocuments decodes a file document by document).
	lineOffset int
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line + d.lineOffset, Column: n.Column}
}

func (d *decoder) problem(p Pos, hint, format string, args ...any) {
	d.probs = append(d.probs, Problem{Pos: p, Message: fmt.Sprintf(format, args...), Hint: hint})
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) decodeStream(data []byte, set *Set) {
	defer func() {
		// yaml.v3 is not known to panic on input, but a policy file is
		// outside input: a decoder bug must become a problem, not a crash.
		if r := recover(); r != nil {
			d.problem(Pos{File: d.file, Line: 1 + d.lineOffset, Column: 1}, "please report this with the file that caused it", "YAML decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p := Pos{File: d.file, Line: 1 + d.lineOffset, Column: 1}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
				if l, convErr := strconv.Atoi(m[1]); convErr == nil {
					p.Line = l + d.lineOffset
				}
				msg = m[2]
			}
			d.problem(p, "fix the YAML syntax; nothing after this point was read", "YAML syntax: %s", msg)
			return
		}
		d.decodeDocument(&doc, set)
	}
}

func (d *decoder) decodeDocument(doc *yaml.Node, set *Set) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return
	}
	n := doc.Content[0]
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // empty document, e.g. a trailing ---
	}
	if !d.noAlias(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problem(d.pos(n), "each document is a mapping starting with kind: Agency, DataContract, Agreement or Calendar", "document is a %s, not a mapping", kindName(n))
		return
	}
	var kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1]
			break
		}
	}
	kinds := []string{KindAgency, KindDataContract, KindAgreement, KindCalendar}
	d.invalid = map[string]bool{}
	switch {
	case kind == nil:
		d.problem(d.pos(n), "add kind: Agency, DataContract, Agreement or Calendar", "document has no kind")
	case kind.Kind != yaml.ScalarNode:
		d.problem(d.pos(kind), "kind is one of Agency, DataContract, Agreement, Calendar", "kind must be a string")
	case kind.Value == KindAgency:
		a := d.agency(n)
		a.invalid = d.invalid
		set.Agencies = append(set.Agencies, a)
	case kind.Value == KindDataContract:
		c := d.contract(n)
		c.invalid = d.invalid
		set.Contracts = append(set.Contracts, c)
	case kind.Value == KindAgreement:
		a := d.agreement(n)
		a.invalid = d.invalid
		set.Agreements = append(set.Agreements, a)
	case kind.Value == KindCalendar:
		c := d.calendar(n)
		c.invalid = d.invalid
		set.Calendars = append(set.Calendars, c)
	default:
		d.problem(d.pos(kind), suggestHint(kind.Value, kinds), "unknown kind %q", kind.Value)
	}
}

// noAlias reports problems for YAML aliases and merge keys anywhere below n.
// They are refused: policy is reviewed like code, and an alias hides what a
// key really says (and alias expansion is a known denial-of-service vector).
func (d *decoder) noAlias(n *yaml.Node) bool {
	ok := true
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			d.problem(d.pos(n), "write the value out in full", "YAML aliases (*%s) are not allowed in policy files", n.Value)
			ok = false
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return ok
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar"
	}
	return "node"
}

// mapping walks a mapping node strictly: each key must be in allowed (nil:
// any key) and appear once. fn is called for each allowed key in file order;
// keyPos (if non-nil) records the position of each value under prefix+key,
// and a key whose value had a problem is marked invalid under prefix+key.
func (d *decoder) mapping(n *yaml.Node, what string, allowed []string, keyPos map[string]Pos, prefix string, fn func(key string, k, v *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.problem(d.pos(n), "write key: value pairs under it", "%s must be a mapping, not a %s", what, kindName(n))
		return false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(d.pos(k), "write a plain word as the key", "%s: keys must be strings, not a %s", what, kindName(k))
			continue
		}
		key := k.Value
		if key == "<<" {
			d.problem(d.pos(k), "write the keys out in full", "%s: YAML merge keys (<<) are not allowed in policy files", what)
			continue
		}
		if allowed != nil && !contains(allowed, key) {
			d.problem(d.pos(k), suggestHint(key, allowed), "unknown key %q in %s", key, what)
			continue
		}
		if seen[key] {
			d.problem(d.pos(k), "remove one of them", "duplicate key %q in %s", key, what)
			continue
		}
		seen[key] = true
		if keyPos != nil {
			keyPos[prefix+key] = d.pos(v)
		}
		before := len(d.probs)
		fn(key, k, v)
		if len(d.probs) > before && d.invalid != nil {
			d.invalid[prefix+key] = true
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// str decodes a scalar as a string; null is the empty string.
func (d *decoder) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		d.problem(d.pos(n), "write a single value; quote it if it contains \": \" or starts with [, { or *", "%s must be a string, not a %s", what, kindName(n))
		return ""
	}
	if isNull(n) {
		return ""
	}
	if n.Style == yaml.LiteralStyle || n.Style == yaml.FoldedStyle {
		return strings.TrimRight(n.Value, "\n") // `>` and `|` keep a final newline
	}
	return n.Value
}

func (d *decoder) integer(n *yaml.Node, what string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.problem(d.pos(n), "write a whole number such as 2", "%s must be an integer, not %s", what, describe(n))
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		d.problem(d.pos(n), "use a whole number within ±2147483647", "%s: %q is out of range", what, n.Value)
		return 0, false
	}
	return int(v), true
}

func (d *decoder) number(n *yaml.Node, what string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.problem(d.pos(n), "write a number such as 10", "%s must be a number, not %s", what, describe(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	if err != nil {
		if iv, ierr := strconv.ParseInt(n.Value, 0, 64); ierr == nil {
			return float64(iv), true
		}
		d.problem(d.pos(n), "write a number such as 10", "%s: %q is not a number", what, n.Value)
		return 0, false
	}
	return v, true
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

// duration decodes a freshness duration: plain (90s, 15m, 1h30m, 7d) or,
// with a calendar, business time (2 business_days, 4 business_hours).
func (d *decoder) duration(n *yaml.Node, what string) calendar.Duration {
	s := d.str(n, what)
	if s == "" {
		return calendar.Duration{}
	}
	v, err := calendar.ParseDuration(s)
	if err != nil {
		hint := "write a duration such as 90s, 15m, 1h30m or 7d"
		if strings.Contains(s, "business") {
			hint = "write a whole number and a unit: 2 business_days, 4 business_hours or 30 business_minutes"
		}
		d.problem(d.pos(n), hint, "%s: %v", what, err)
		return calendar.Duration{}
	}
	return v
}

func (d *decoder) timestamp(n *yaml.Node, what string) time.Time {
	s := d.str(n, what)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		d.problem(d.pos(n), "write an RFC 3339 timestamp such as 2026-01-01T00:00:00Z", "%s: %q is not a timestamp", what, s)
		return time.Time{}
	}
	return t
}

func (d *decoder) strings(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		if isNull(n) {
			return nil
		}
		d.problem(d.pos(n), "write a list such as [a, b]", "%s must be a list, not a %s", what, kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		if s := d.str(c, what+" entry"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// exprPos is the position of the first character of an expression's text,
// so that CEL error columns can be added to it.
func (d *decoder) exprPos(n *yaml.Node) Pos {
	p := d.pos(n)
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		p.Column++
	case yaml.LiteralStyle, yaml.FoldedStyle:
		// The text starts on the next non-empty line, at its indentation.
		for l := n.Line; l < len(d.lines); l++ { // d.lines is 0-based: index l is line l+1
			line := d.lines[l]
			trimmed := bytes.TrimLeft(line, " ")
			if len(bytes.TrimSpace(trimmed)) == 0 {
				continue
			}
			p.Line = l + 1 + d.lineOffset
			p.Column = len(line) - len(trimmed) + 1
			break
		}
	}
	return p
}

var agencyKeys = []string{"kind", "id", "name", "description", "stewards"}

func (d *decoder) agency(n *yaml.Node) Agency {
	a := Agency{Pos: d.pos(n), KeyPos: map[string]Pos{}}
	d.mapping(n, "Agency", agencyKeys, a.KeyPos, "", func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			a.ID = d.str(v, "id")
		case "name":
			a.Name = d.str(v, "name")
		case "description":
			a.Description = d.str(v, "description")
		case "stewards":
			a.Stewards = d.strings(v, "stewards")
		}
	})
	return a
}

var (
	contractKeys  = []string{"kind", "dataset", "owner", "subject", "description", "data_subject", "key", "fields", "quality", "freshness"}
	qualityKeys   = []string{"name", "rule", "severity", "description"}
	freshnessKeys = []string{"event_time", "calendar", "max_age", "expected_every", "on_stale"}
)

func (d *decoder) contract(n *yaml.Node) DataContract {
	c := DataContract{Pos: d.pos(n), KeyPos: map[string]Pos{}}
	d.mapping(n, "DataContract", contractKeys, c.KeyPos, "", func(key string, _, v *yaml.Node) {
		switch key {
		case "dataset":
			c.Dataset = d.str(v, "dataset")
		case "owner":
			c.Owner = d.str(v, "owner")
		case "subject":
			c.Subject = d.str(v, "subject")
		case "description":
			c.Description = d.str(v, "description")
		case "data_subject":
			c.DataSubject = d.str(v, "data_subject")
		case "key":
			c.Key = d.str(v, "key")
		case "fields":
			if isNull(v) {
				return
			}
			d.mapping(v, "fields", nil, c.KeyPos, "fields.", func(name string, k, v *yaml.Node) {
				c.Fields = append(c.Fields, FieldClass{
					Name:  name,
					Class: Classification(d.str(v, "classification of field "+name)),
					Pos:   d.pos(k),
				})
			})
		case "quality":
			c.Quality = d.quality(v, c.KeyPos)
		case "freshness":
			if isNull(v) {
				return
			}
			f := &Freshness{Pos: d.pos(v), OnStale: StaleQuarantine}
			d.mapping(v, "freshness", freshnessKeys, c.KeyPos, "freshness.", func(key string, _, v *yaml.Node) {
				switch key {
				case "event_time":
					f.EventTime = d.str(v, "freshness.event_time")
				case "calendar":
					f.Calendar = d.str(v, "freshness.calendar")
				case "max_age":
					f.MaxAge = d.duration(v, "freshness.max_age")
				case "expected_every":
					f.ExpectedEvery = d.duration(v, "freshness.expected_every")
				case "on_stale":
					f.OnStale = OnStale(d.str(v, "freshness.on_stale"))
				}
			})
			c.Freshness = f
		}
	})
	return c
}

func (d *decoder) quality(n *yaml.Node, keyPos map[string]Pos) []QualityRule {
	start := func(item *yaml.Node) QualityRule { return QualityRule{Severity: SeverityError, Pos: d.pos(item)} }
	return decodeList(d, n, keyPos, "quality", "quality rule", "{name, rule, severity}", qualityKeys, start, func(q *QualityRule, key string, v *yaml.Node) {
		switch key {
		case "name":
			q.Name = d.str(v, "quality rule name")
		case "rule":
			q.Rule = d.str(v, "quality rule")
			q.Pos = d.exprPos(v)
		case "severity":
			q.Severity = Severity(d.str(v, "quality rule severity"))
		case "description":
			q.Description = d.str(v, "quality rule description")
		}
	})
}

var (
	agreementKeys    = []string{"kind", "id", "provider", "consumer", "purpose", "legal_basis", "valid_from", "valid_until", "fields", "filter", "freshness", "status", "approvals", "history"}
	agrFreshnessKeys = []string{"calendar", "max_age", "expected_every"}
	approvalKeys     = []string{"agency", "steward", "at"}
	historyKeys      = []string{"from", "to", "by", "at", "reason"}
)

func (d *decoder) agreement(n *yaml.Node) Agreement {
	a := Agreement{Pos: d.pos(n), Status: StatusDraft, KeyPos: map[string]Pos{}}
	d.mapping(n, "Agreement", agreementKeys, a.KeyPos, "", func(key string, _, v *yaml.Node) {
		switch key {
		case "id":
			a.ID = d.str(v, "id")
		case "provider":
			a.Provider = d.str(v, "provider")
		case "consumer":
			a.Consumer = d.str(v, "consumer")
		case "purpose":
			a.Purpose = d.str(v, "purpose")
		case "legal_basis":
			a.LegalBasis = d.str(v, "legal_basis")
		case "valid_from":
			a.ValidFrom = d.timestamp(v, "valid_from")
		case "valid_until":
			a.ValidUntil = d.timestamp(v, "valid_until")
		case "filter":
			a.Filter = d.str(v, "filter")
			a.KeyPos["filter"] = d.exprPos(v)
		case "status":
			a.Status = Status(d.str(v, "status"))
		case "freshness":
			if isNull(v) {
				return
			}
			d.mapping(v, "agreement freshness", agrFreshnessKeys, a.KeyPos, "freshness.", func(key string, _, v *yaml.Node) {
				switch key {
				case "calendar":
					a.Calendar = d.str(v, "freshness.calendar")
				case "max_age":
					a.MaxAge = d.duration(v, "freshness.max_age")
				case "expected_every":
					a.ExpectedEvery = d.duration(v, "freshness.expected_every")
				}
			})
		case "fields":
			if isNull(v) {
				return
			}
			d.mapping(v, "fields", nil, a.KeyPos, "fields.", func(name string, k, v *yaml.Node) {
				a.Fields = append(a.Fields, FieldRule{Name: name, Transform: d.transform(v, name), Pos: d.pos(k)})
			})
		case "approvals":
			a.Approvals = d.approvals(v, a.KeyPos)
		case "history":
			a.History = d.history(v, a.KeyPos)
		}
	})
	return a
}

func (d *decoder) approvals(n *yaml.Node, keyPos map[string]Pos) []Approval {
	return decodeList(d, n, keyPos, "approvals", "approval", "{agency, steward, at}", approvalKeys, nil, func(ap *Approval, key string, v *yaml.Node) {
		switch key {
		case "agency":
			ap.Agency = d.str(v, "approval agency")
		case "steward":
			ap.Steward = d.str(v, "approval steward")
		case "at":
			ap.At = d.timestamp(v, "approval at")
		}
	})
}

func (d *decoder) history(n *yaml.Node, keyPos map[string]Pos) []Transition {
	return decodeList(d, n, keyPos, "history", "history entry", "{from, to, by, at, reason}", historyKeys, nil, func(t *Transition, key string, v *yaml.Node) {
		switch key {
		case "from":
			t.From = Status(d.str(v, "history from"))
		case "to":
			t.To = Status(d.str(v, "history to"))
		case "by":
			t.By = d.str(v, "history by")
		case "at":
			t.At = d.timestamp(v, "history at")
		case "reason":
			t.Reason = d.str(v, "history reason")
		}
	})
}

// decodeList decodes the list under key (a null is an empty list): each
// item a mapping of the allowed keys, positioned in keyPos as key.<i> and
// key.<i>.<field>, starting from start(item) (the zero T when start is nil)
// and filled in by field. shape is the item's form, for the hint when the
// value is not a list.
func decodeList[T any](d *decoder, n *yaml.Node, keyPos map[string]Pos, key, item, shape string, allowed []string,
	start func(item *yaml.Node) T, field func(t *T, key string, v *yaml.Node)) []T {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(d.pos(n), "write a list of "+shape, "%s must be a list, not a %s", key, kindName(n))
		return nil
	}
	var out []T
	for i, node := range n.Content {
		var t T
		if start != nil {
			t = start(node)
		}
		prefix := fmt.Sprintf("%s.%d.", key, i)
		keyPos[prefix[:len(prefix)-1]] = d.pos(node)
		d.mapping(node, item, allowed, keyPos, prefix, func(k string, _, v *yaml.Node) { field(&t, k, v) })
		out = append(out, t)
	}
	return out
}

var transformHint = "write keep, redact, pseudonymize, hash, {truncate: N}, {mask: {keep_last: N}}, {generalize: year|month|day} or {generalize: {bucket: N}}"

// transform decodes one allow-list value. Unknown transform names are kept
// as they are (Kind) for Validate to report with a suggestion; shapes that
// cannot be decoded are problems here.
func (d *decoder) transform(n *yaml.Node, field string) Transform {
	before := len(d.probs)
	t := d.transformNode(n, field)
	if len(d.probs) > before {
		return Transform{} // reported; Validate skips an empty Kind
	}
	return t
}

func (d *decoder) transformNode(n *yaml.Node, field string) Transform {
	what := "transform of field " + field
	switch n.Kind {
	case yaml.ScalarNode:
		if isNull(n) {
			d.problem(d.pos(n), transformHint, "field %s has no transform", field)
			return Transform{}
		}
		k := TransformKind(n.Value)
		switch k {
		case Truncate:
			d.problem(d.pos(n), "write {truncate: N}", "truncate of field %s needs the number of characters kept", field)
		case Mask:
			d.problem(d.pos(n), "write {mask: {keep_last: N}}", "mask of field %s needs keep_last", field)
		case Generalize:
			d.problem(d.pos(n), "write {generalize: year|month|day} or {generalize: {bucket: N}}", "generalize of field %s needs a unit or bucket", field)
		}
		return Transform{Kind: k}
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			d.problem(d.pos(n), transformHint, "%s must have exactly one key, has %d", what, len(n.Content)/2)
			return Transform{}
		}
		k, v := n.Content[0], n.Content[1]
		t := Transform{Kind: TransformKind(k.Value)}
		switch t.Kind {
		case Truncate:
			t.N, _ = d.integer(v, "truncate of field "+field)
		case Mask:
			seen := false
			before := len(d.probs)
			d.mapping(v, "mask of field "+field, []string{"keep_last"}, nil, "", func(_ string, _, v *yaml.Node) {
				seen = true
				t.N, _ = d.integer(v, "mask keep_last of field "+field)
			})
			if !seen && len(d.probs) == before {
				d.problem(d.pos(v), "write {mask: {keep_last: N}}", "mask of field %s needs keep_last", field)
			}
		case Generalize:
			switch v.Kind {
			case yaml.ScalarNode:
				t.Unit = d.str(v, "generalize unit of field "+field)
			case yaml.MappingNode:
				seen := false
				before := len(d.probs)
				d.mapping(v, "generalize of field "+field, []string{"bucket"}, nil, "", func(_ string, _, v *yaml.Node) {
					seen = true
					t.Bucket, _ = d.number(v, "generalize bucket of field "+field)
				})
				if !seen && len(d.probs) == before {
					d.problem(d.pos(v), "write {generalize: {bucket: N}}", "generalize of field %s needs bucket", field)
				}
			default:
				d.problem(d.pos(v), "write {generalize: year|month|day} or {generalize: {bucket: N}}", "generalize of field %s must be a unit or {bucket: N}", field)
			}
		case Keep, Redact, Pseudonymize, Hash:
			d.problem(d.pos(k), "write it as a plain word: "+string(t.Kind), "%s takes no arguments (field %s)", t.Kind, field)
		default:
			// Unknown name: Validate reports it with a suggestion.
		}
		return t
	default:
		d.problem(d.pos(n), transformHint, "%s must be a word or a mapping, not a %s", what, kindName(n))
		return Transform{}
	}
}
