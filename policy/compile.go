package policy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/schemas"
)

// Option configures Compile.
type Option func(*options)

type options struct {
	clockSkew   time.Duration
	pseudoB64   bool
	maxDepth    int
	localIDBase int
	isolate     bool // IsolateSchemaProblems
}

func defaultOptions() options {
	return options{clockSkew: 5 * time.Minute, maxDepth: 32, localIDBase: 1_000_000}
}

// WithClockSkew bounds how far in the future an event time may lie before
// the record is quarantined with freshness:future. Default 5m.
func WithClockSkew(d time.Duration) Option { return func(o *options) { o.clockSkew = d } }

// WithBase64Pseudonyms writes pseudonyms as unpadded base64url (43
// characters) instead of lowercase hex (64 characters). Default hex.
func WithBase64Pseudonyms() Option { return func(o *options) { o.pseudoB64 = true } }

// WithMaxDepth bounds the nesting of schemas the plan accepts (recursive
// schemas are refused beyond it). Default 32.
func WithMaxDepth(n int) Option { return func(o *options) { o.maxDepth = n } }

// WithLocalIDBase sets the first id assigned to derived schemas when
// Input.RegisterDerived is nil (ids are then base + the agreement's index in
// id order). Default 1,000,000.
func WithLocalIDBase(n int) Option { return func(o *options) { o.localIDBase = n } }

// Plan is a compiled, immutable policy. All methods are safe for concurrent
// use; a new policy is a new Plan (see Holder).
type Plan struct {
	version  string
	opts     options
	schemas  map[int]schemas.SchemaVersion // every known schema id
	datasets map[string]*datasetPlan
	names    []string // dataset ids, sorted
	derived  []string // derived subjects, sorted
	// subjectKey keys Decision.SubjectHash; nil when Input.SubjectKey is empty.
	subjectKey *hmacKey
	// src is what the plan was compiled from (nothing is registered
	// through it), so CheckSchema can compile a dataset on a candidate version.
	src    Input
	broken []BrokenDataset // datasets quarantined by IsolateSchemaProblems, sorted
}

// AgreementInfo is what the runtime needs to know about one compiled agreement.
type AgreementInfo struct {
	ID       string
	Consumer string
	Topic    string // deliver.<consumer>.<agreement id>
	Subject  string // deliver.<consumer>.<agreement id>-value
	SchemaID int    // id of the derived schema, used in the delivered wire frame
	Schema   avro.Schema
	// SchemaJSON is the derived schema as registered (with docs), indented.
	SchemaJSON string
	Status     agreements.Status
	ValidFrom  time.Time
	ValidUntil time.Time
	// ContentHash is agreements.(*Agreement).ContentHash of the terms
	// compiled: the runtime delivers only while the agreement's stored
	// state is active for these very terms, and the ledger records it.
	ContentHash string
	// KeyKept: the record key goes to the consumer unchanged, because the
	// contract names the field it is (`key:`) and the agreement keeps that
	// field; otherwise deliveries carry a keyed hash of it.
	KeyKept bool
}

type datasetPlan struct {
	contract     agreements.DataContract
	latest       schemas.SchemaVersion
	fields       []fieldInfo
	byName       map[string]int
	writers      map[int]*dnode // accepted writer schema ids → top-level decoder
	unresolvable map[int]string // ids of the subject that cannot be resolved, with why
	rules        []rulePlan
	fresh        *freshPlan
	subjectField int // -1 when the contract names no data subject field
	agreements   []*agreementPlan
	celTypeName  string
	pool         sync.Pool
	env          *cel.Env   // compilation only
	asts         []*cel.Ast // compilation only: rules and filters, to find the fields they read
	uses         []fieldUse // who reads or delivers which field (CheckSchema)
	// broken is the quarantine detail of a dataset whose schemas do not
	// compile (IsolateSchemaProblems); "" when the dataset is planned.
	broken string
}

type fieldInfo struct {
	name       string
	schema     avro.Schema // reader type
	class      agreements.Classification
	classified bool
	branches   []avro.Schema // union branches, nil when not a union
	ident      []*dnode      // identity decoder per branch (index 0 when not a union)
	logical    []avro.LogicalType
}

func (f *fieldInfo) logicalAt(br int32) avro.LogicalType {
	if br >= 0 {
		if int(br) < len(f.logical) {
			return f.logical[br]
		}
		return ""
	}
	return f.logical[0]
}

func (f *fieldInfo) identAt(br int32) *dnode {
	if br >= 0 {
		if int(br) < len(f.ident) {
			return f.ident[br]
		}
		return nil
	}
	return f.ident[0]
}

type rulePlan struct {
	name     string
	severity agreements.Severity
	prg      cel.Program
	reason   Reason // the reason when the rule is false
	evalErr  Reason // the reason when the rule cannot be evaluated
}

type freshPlan struct {
	field   int
	maxAge  ageBound
	onStale agreements.OnStale
}

type agreementPlan struct {
	info   AgreementInfo
	skip   string // a Skip* reason for any record when the status is not active
	from   time.Time
	until  time.Time
	maxAge ageBound
	filter cel.Program
	out    []outField
	header [5]byte
	// sizeHint is the largest delivered value seen so far (capped), so that
	// the output buffer is allocated once at about the right size.
	sizeHint atomic.Int64
}

// outField writes one field of the derived record.
type outField struct {
	src     int
	nullIdx int // derived branch of null; -1 when the derived type is not nullable
	baseIdx int // derived branch of the value when nullable
	redact  bool
	union   bool // keep of a general union: the reader branch index is copied
	schema  avro.Schema
	enc     encFn
}

// compiler accumulates problems.
type compiler struct {
	in    Input
	opts  options
	probs agreements.Problems
	// dsProbs holds each dataset's own problems while isolating (IsolateSchemaProblems).
	dsProbs map[string]agreements.Problems
	rv      resolver
	check   bool // Check: schema-dependent findings only, nothing registered
	cals    map[string]*calendar.Calendar
}

func (c *compiler) addf(pos agreements.Pos, hint, format string, args ...any) {
	c.probs = append(c.probs, agreements.Problem{Pos: pos, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// Check runs the schema-dependent validation of contracts and agreements
// (used by `exchange agreement validate`): fields unknown to the subject's
// latest schema, transforms that do not fit a field's type, keep of a field
// the contract does not classify (treated as sensitive), CEL that does not
// compile or is not boolean, a freshness event-time field that is missing
// or not a timestamp or date, an agreement max age not stricter than the
// contract's. Model-only checks (unknown dataset or agency, keep or hash of
// a field classified sensitive, validity window, lifecycle) belong to the
// agreements package and are not repeated here; Compile enforces them too.
func Check(in Input) agreements.Problems {
	c := &compiler{in: in, opts: defaultOptions(), check: true}
	c.rv.maxDepth = c.opts.maxDepth
	c.compile()
	return c.sorted()
}

// sorted orders problems by file, line and column (as agreements.Validate
// does); problems without a position come first, in the order found.
func (c *compiler) sorted() agreements.Problems {
	sort.SliceStable(c.probs, func(i, j int) bool {
		a, b := c.probs[i].Pos, c.probs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return c.probs
}

// Compile compiles in into an immutable Plan. On any problem it returns
// agreements.Problems holding every problem found.
func Compile(in Input, opts ...Option) (*Plan, error) {
	c := &compiler{in: in, opts: defaultOptions()}
	for _, o := range opts {
		o(&c.opts)
	}
	c.rv.maxDepth = c.opts.maxDepth
	p := c.compile()
	if len(c.probs) > 0 {
		return nil, c.sorted()
	}
	return p, nil
}

func (c *compiler) compile() *Plan {
	c.cals = map[string]*calendar.Calendar{}
	for i := range c.in.Calendars {
		if cal := c.in.Calendars[i].Calendar(); cal != nil {
			c.cals[cal.ID()] = cal
		}
	}
	p := &Plan{version: c.in.Version, opts: c.opts, schemas: map[int]schemas.SchemaVersion{}, datasets: map[string]*datasetPlan{}, src: sourceOf(c.in)}
	if len(c.in.SubjectKey) > 0 {
		p.subjectKey = newHMACKey(c.in.SubjectKey)
	}
	for _, s := range c.in.Schemas {
		if s.Avro == nil {
			c.addf(agreements.Pos{}, "", "schema id %d (subject %s version %d) has no parsed schema", s.ID, s.Subject, s.Version)
			continue
		}
		p.schemas[s.ID] = s
	}
	for i := range c.in.Contracts {
		ct := c.in.Contracts[i]
		if _, dup := p.datasets[ct.Dataset]; dup {
			if c.check {
				continue // reported by agreements.Validate
			}
			c.addf(ct.Pos, "keep one contract per dataset", "dataset %s has more than one contract", ct.Dataset)
			continue
		}
		from := len(c.probs)
		ds := c.dataset(ct)
		c.own(ct.Dataset, from)
		if ds != nil {
			p.datasets[ct.Dataset] = ds
			p.names = append(p.names, ct.Dataset)
		}
	}
	sort.Strings(p.names)

	ags := make([]*agreements.Agreement, 0, len(c.in.Agreements))
	for i := range c.in.Agreements {
		ags = append(ags, &c.in.Agreements[i])
	}
	sort.SliceStable(ags, func(i, j int) bool { return ags[i].ID < ags[j].ID })
	seen := map[string]bool{}
	for idx, a := range ags {
		if seen[a.ID] {
			if !c.check {
				c.addf(a.Pos, "agreement ids are unique", "agreement %s is defined more than once", a.ID)
			}
			continue
		}
		seen[a.ID] = true
		ds := p.datasets[a.Provider]
		if ds == nil {
			if !c.check && !c.contractExists(a.Provider) {
				c.addf(a.Pos, "write a DataContract for the dataset first", "agreement %s: provider dataset %s has no contract", a.ID, a.Provider)
			}
			continue
		}
		from := len(c.probs)
		if ap := c.agreement(ds, a, c.opts.localIDBase+idx); ap != nil {
			ds.agreements = append(ds.agreements, ap)
			p.derived = append(p.derived, ap.info.Subject)
		}
		c.own(a.Provider, from)
	}
	sort.Strings(p.derived)
	if c.isolating() {
		c.isolate(p)
	}
	for _, ds := range p.datasets {
		if ds.broken == "" {
			c.finishDataset(ds)
		}
	}
	return p
}

// sourceOf is what a plan keeps of its input: no registration hook.
func sourceOf(in Input) Input {
	in.RegisterDerived = nil
	return in
}

func keyPos(m map[string]agreements.Pos, key string, fallback agreements.Pos) agreements.Pos {
	if p, ok := m[key]; ok {
		return p
	}
	return fallback
}

func (c *compiler) contractExists(dataset string) bool {
	for _, ct := range c.in.Contracts {
		if ct.Dataset == dataset {
			return true
		}
	}
	return false
}

// avroName turns an id into a valid Avro name: [A-Za-z_][A-Za-z0-9_]*.
func avroName(id string) string {
	var b strings.Builder
	for i, r := range id {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if i == 0 && r >= '0' && r <= '9' {
			b.WriteByte('_')
			ok = true
		}
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// cloneContract copies a contract deeply enough that neither the caller's
// input nor a caller of Plan.Contract can change the plan's copy.
func cloneContract(ct agreements.DataContract) agreements.DataContract {
	ct.Fields = append([]agreements.FieldClass(nil), ct.Fields...)
	ct.Quality = append([]agreements.QualityRule(nil), ct.Quality...)
	if ct.Freshness != nil {
		f := *ct.Freshness
		ct.Freshness = &f
	}
	if ct.KeyPos != nil {
		m := make(map[string]agreements.Pos, len(ct.KeyPos))
		for k, v := range ct.KeyPos {
			m[k] = v
		}
		ct.KeyPos = m
	}
	return ct
}

// dataset compiles one contract: the latest schema's fields and their
// classes, the data subject, the CEL environment, quality rules and
// freshness. It returns nil when the dataset cannot be planned at all.
func (c *compiler) dataset(ct agreements.DataContract) *datasetPlan {
	ct = cloneContract(ct)
	ds := &datasetPlan{contract: ct, byName: map[string]int{}, writers: map[int]*dnode{}, unresolvable: map[int]string{}, subjectField: -1}
	ds.celTypeName = "exchange.record." + avroName(ct.Dataset)
	rec := c.latestSchema(ds)
	if rec == nil {
		return nil
	}
	c.datasetFields(ds, rec)
	names := ds.fieldNames()
	for _, fc := range ct.Fields {
		if _, ok := ds.byName[fc.Name]; !ok {
			c.addf(fc.Pos, "schema fields: "+names, "contract %s: field %s is not in the schema of %s (version %d)", ct.Dataset, fc.Name, ct.Subject, ds.latest.Version)
		}
	}
	c.dataSubject(ds, names)
	env, err := newCELEnv(ds)
	if err != nil {
		c.addf(ct.Pos, "", "contract %s: building the CEL environment: %v", ct.Dataset, err)
		return nil
	}
	ds.pool.New = func() any { return newEvalState(ds) }
	ds.env = env
	c.qualityRules(ds, names)
	c.freshness(ds, names)
	return ds
}

// latestSchema finds the latest version of the contract's subject, the one
// the plan reads every version as; it must be a record.
func (c *compiler) latestSchema(ds *datasetPlan) *avro.RecordSchema {
	ct := ds.contract
	found := false
	for _, s := range c.in.Schemas {
		if s.Subject == ct.Subject && s.Avro != nil && (!found || s.Version > ds.latest.Version) {
			ds.latest, found = s, true
		}
	}
	if !found {
		c.addf(ct.Pos, "register the dataset's schema first (or pass --schemas DIR)", "contract %s: subject %s has no registered schema", ct.Dataset, ct.Subject)
		return nil
	}
	rec, ok := deref(ds.latest.Avro).(*avro.RecordSchema)
	if !ok {
		c.addf(ct.Pos, "the value schema of a dataset is an Avro record", "contract %s: subject %s version %d is a %s, not a record", ct.Dataset, ct.Subject, ds.latest.Version, ds.latest.Avro.Type())
		return nil
	}
	return rec
}

// datasetFields records each top-level field with its classification
// (unclassified fields are sensitive) and an identity decoder per union
// branch.
func (c *compiler) datasetFields(ds *datasetPlan, rec *avro.RecordSchema) {
	ct := ds.contract
	classes := map[string]agreements.FieldClass{}
	for _, fc := range ct.Fields {
		classes[fc.Name] = fc
	}
	for i, f := range rec.Fields() {
		fi := fieldInfo{name: f.Name(), schema: f.Type(), class: agreements.Sensitive}
		if fc, ok := classes[f.Name()]; ok {
			fi.class, fi.classified = fc.Class, true
		}
		branches := []avro.Schema{f.Type()}
		if u, ok := deref(f.Type()).(*avro.UnionSchema); ok {
			fi.branches = u.Types()
			branches = u.Types()
		}
		for _, b := range branches {
			id, err := c.rv.identity(b)
			if err != nil {
				c.addf(ct.Pos, "", "contract %s: field %s: %v", ct.Dataset, f.Name(), err)
			}
			fi.ident = append(fi.ident, id)
			fi.logical = append(fi.logical, logicalOf(b))
		}
		ds.fields = append(ds.fields, fi)
		ds.byName[f.Name()] = i
	}
}

// dataSubject finds the contract's data_subject field, an identifier.
func (c *compiler) dataSubject(ds *datasetPlan, names string) {
	ct := ds.contract
	if ct.DataSubject == "" {
		return
	}
	i, ok := ds.byName[ct.DataSubject]
	if !ok {
		c.addf(keyPos(ct.KeyPos, "data_subject", ct.Pos), "schema fields: "+names, "contract %s: data_subject field %s is not in the schema", ct.Dataset, ct.DataSubject)
		return
	}
	ds.subjectField = i
	ds.use(fieldUse{kind: useSubject}, []string{ct.DataSubject}, false)
	if msg, _ := checkIdentifier("data_subject")(agreements.Transform{}, baseOf(ds.fields[i].schema)); msg != "" {
		c.addf(keyPos(ct.KeyPos, "data_subject", ct.Pos), "the data subject field holds an identifier: string, bytes, fixed, int or long",
			"contract %s: data_subject field %s is of type %s, not an identifier", ct.Dataset, ct.DataSubject, typeLabel(baseOf(ds.fields[i].schema)))
	}
}

// qualityRules compiles the contract's quality rules to CEL programs.
func (c *compiler) qualityRules(ds *datasetPlan, names string) {
	ct := ds.contract
	for _, q := range ct.Quality {
		prg, ast, msg := compileCEL(ds.env, q.Rule, c.check)
		if prg == nil && msg == "" {
			continue // a syntax error, reported by agreements.Validate
		}
		if msg != "" {
			c.addf(q.Pos, "rules are boolean CEL over `record`; fields: "+names, "contract %s: quality rule %s: %s", ct.Dataset, q.Name, msg)
			continue
		}
		ds.asts = append(ds.asts, ast)
		fields, every := referencedFields(ast)
		ds.use(fieldUse{kind: useRule, rule: q.Name}, fields, every)
		ds.rules = append(ds.rules, rulePlan{
			name: q.Name, severity: q.Severity, prg: prg,
			reason:  Reason{Code: QualityReason(q.Name), Detail: ruleDetail(q, "is false")},
			evalErr: Reason{Code: QualityReason(q.Name), Detail: ruleDetail(q, "could not be evaluated (a field it reads is null or of an unexpected type)")},
		})
	}
}

// Bounds of the policy text a quality detail quotes: the whole detail
// stays well under the exchange-detail header's limit.
const (
	maxDetailRule        = 200
	maxDetailDescription = 300
)

// ruleDetail is the detail of a failed rule: its name, its expression and
// the contract's description of it, each bounded. Policy text only, so
// never a field value.
func ruleDetail(q agreements.QualityRule, outcome string) string {
	detail := "rule " + q.Name + " (" + clip(strings.Join(strings.Fields(q.Rule), " "), maxDetailRule) + ") " + outcome
	if desc := strings.Join(strings.Fields(q.Description), " "); desc != "" {
		detail += ": " + clip(desc, maxDetailDescription)
	}
	return detail
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// freshness finds the contract's event-time field, a timestamp or date.
func (c *compiler) freshness(ds *datasetPlan, names string) {
	ct := ds.contract
	fr := ct.Freshness
	if fr == nil || fr.EventTime == "" {
		return
	}
	i, ok := ds.byName[fr.EventTime]
	switch {
	case !ok:
		c.addf(keyPos(ct.KeyPos, "freshness.event_time", fr.Pos), "schema fields: "+names, "contract %s: freshness event_time field %s is not in the schema", ct.Dataset, fr.EventTime)
	case !isTimeField(ds.fields[i].schema):
		c.addf(keyPos(ct.KeyPos, "freshness.event_time", fr.Pos), "the event time is a timestamp-millis, timestamp-micros, date or RFC 3339 string field", "contract %s: freshness event_time field %s is of type %s, not a timestamp or date", ct.Dataset, fr.EventTime, typeLabel(baseOf(ds.fields[i].schema)))
	default:
		cal, ok := c.calendar(fr.Calendar, fr.MaxAge, keyPos(ct.KeyPos, "freshness.calendar", fr.Pos), "contract "+ct.Dataset)
		if ok {
			ds.fresh = &freshPlan{field: i, maxAge: newAgeBound(fr.MaxAge, cal), onStale: fr.OnStale}
			ds.use(fieldUse{kind: useFreshness}, []string{fr.EventTime}, false)
		}
	}
}

// calendar returns the built calendar named id, which a bound d in
// business time needs. A missing one is reported (but not when checking:
// agreements.Validate reports it with a suggestion).
func (c *compiler) calendar(id string, d calendar.Duration, pos agreements.Pos, what string) (*calendar.Calendar, bool) {
	if id == "" && !d.IsBusiness() {
		return nil, true
	}
	cal := c.cals[id]
	switch {
	case cal != nil:
		return cal, true
	case c.check:
	case id == "":
		c.addf(pos, "name a calendar under freshness", "%s: freshness bound %s is in business time but names no calendar", what, d)
	default:
		c.addf(pos, "load the Calendar document with the contracts and agreements", "%s: freshness calendar %q is not loaded (or has problems)", what, id)
	}
	return nil, false
}

func (ds *datasetPlan) fieldNames() string {
	n := make([]string, len(ds.fields))
	for i, f := range ds.fields {
		n[i] = f.name
	}
	return strings.Join(n, ", ")
}

func baseOf(s avro.Schema) avro.Schema {
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		if b, _, _, ok := nullableBase(u); ok {
			return b
		}
	}
	return s
}

func isTimeField(s avro.Schema) bool {
	b := baseOf(s)
	switch logicalOf(b) {
	case avro.TimestampMillis, avro.TimestampMicros:
		return b.Type() == avro.Long
	case avro.Date:
		return b.Type() == avro.Int
	case "":
		return b.Type() == avro.String
	}
	return false
}

// finishDataset resolves every version of the subject and prunes the top-level
// decoders to the fields someone reads.
func (c *compiler) finishDataset(ds *datasetPlan) {
	needed := make([]bool, len(ds.fields))
	all := false
	for _, a := range ds.asts {
		fs, every := referencedFields(a)
		all = all || every
		for _, f := range fs {
			if i, ok := ds.byName[f]; ok {
				needed[i] = true
			}
		}
	}
	ds.env, ds.asts = nil, nil
	for _, ap := range ds.agreements {
		for _, o := range ap.out {
			needed[o.src] = true
		}
	}
	if ds.fresh != nil {
		needed[ds.fresh.field] = true
	}
	if ds.subjectField >= 0 {
		needed[ds.subjectField] = true
	}
	for _, s := range c.in.Schemas {
		if s.Subject != ds.contract.Subject || s.Avro == nil {
			continue
		}
		n, err := c.rv.resolve(s.Avro, ds.latest.Avro)
		if err != nil {
			ds.unresolvable[s.ID] = fmt.Sprintf("version %d of %s cannot be resolved to version %d: %v", s.Version, s.Subject, ds.latest.Version, err)
			continue
		}
		if !all {
			n = pruneTop(n, needed)
		}
		ds.writers[s.ID] = n
	}
}

// pruneTop returns a copy of a top-level record decoder that skips fields
// nobody reads (rules, filters, freshness, data subject, agreements).
func pruneTop(n *dnode, needed []bool) *dnode {
	cp := *n
	cp.steps = make([]fstep, len(n.steps))
	for i, s := range n.steps {
		if s.to >= 0 && !needed[s.to] {
			s.to = -1
		}
		cp.steps[i] = s
	}
	cp.defs = nil
	for _, d := range n.defs {
		if needed[d.to] {
			cp.defs = append(cp.defs, d)
		}
	}
	return &cp
}

type derivedField struct {
	Name    string          `json:"name"`
	Type    json.RawMessage `json:"type"`
	Doc     string          `json:"doc,omitempty"`
	Default json.RawMessage `json:"default,omitempty"`
}

type derivedRecord struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Doc    string         `json:"doc"`
	Fields []derivedField `json:"fields"`
}

// typeJSON writes s as JSON, naming (not redefining) named types already written.
func typeJSON(s avro.Schema, seen map[string]bool) json.RawMessage {
	if u, ok := s.(*avro.UnionSchema); ok {
		parts := make([]json.RawMessage, len(u.Types()))
		for i, t := range u.Types() {
			parts[i] = typeJSON(t, seen)
		}
		return rawJSON(parts)
	}
	if n, ok := deref(s).(avro.NamedSchema); ok {
		if seen[n.FullName()] {
			return rawJSON(n.FullName())
		}
		seen[n.FullName()] = true
	}
	return rawJSON(deref(s))
}

// agreement compiles one agreement of ds: the skip its status gives, the
// fields it delivers and how, its row filter and freshness, and its derived
// schema. It returns nil when a problem was reported (or when only checking).
func (c *compiler) agreement(ds *datasetPlan, a *agreements.Agreement, localID int) *agreementPlan {
	ap := newAgreementPlan(a)
	ap.info.KeyKept = keyKept(&ds.contract, a)
	before := len(c.probs)
	d := &deriver{c: c, ds: ds, a: a, names: ds.fieldNames(), seen: map[string]bool{}}
	rec := derivedRecord{Type: "record", Name: avroName(a.ID), Doc: agreementDoc(a)}
	for _, fr := range a.Fields {
		of, df, ok := d.field(fr)
		if !ok {
			continue
		}
		rec.Fields = append(rec.Fields, df)
		ap.out = append(ap.out, of)
	}
	pos := func(key string) agreements.Pos { return keyPos(a.KeyPos, key, a.Pos) }
	if len(a.Fields) == 0 {
		c.addf(pos("fields"), "list the fields the consumer may receive", "agreement %s: the field allow-list is empty", a.ID)
	}
	ap.filter = c.agreementFilter(ds, a, pos("filter"), d.names)
	c.checkAgreementFreshness(ds, a, pos("freshness.max_age"))
	ap.maxAge = c.agreementMaxAge(ds, a, pos("freshness.calendar"))
	if len(c.probs) > before || c.check {
		return nil
	}
	if !c.deriveSchema(ap, a, rec, localID) {
		return nil
	}
	for _, df := range rec.Fields {
		ds.use(fieldUse{kind: useDelivers, agreement: a.ID}, []string{df.Name}, false)
	}
	return ap
}

// newAgreementPlan starts a plan with the agreement's identity, topic,
// subject, validity and the skip reason its status gives.
func newAgreementPlan(a *agreements.Agreement) *agreementPlan {
	ap := &agreementPlan{from: a.ValidFrom, until: a.ValidUntil}
	ap.info = AgreementInfo{
		ID: a.ID, Consumer: a.Consumer,
		Topic:   names.Deliver(a.Consumer, a.ID),
		Subject: names.DeliverSubject(a.Consumer, a.ID),
		Status:  a.Status, ValidFrom: a.ValidFrom, ValidUntil: a.ValidUntil,
		ContentHash: a.ContentHash(),
	}
	switch a.Status {
	case agreements.StatusActive:
	case agreements.StatusSuspended:
		ap.skip = SkipSuspended
	case agreements.StatusRevoked:
		ap.skip = SkipRevoked
	case agreements.StatusExpired:
		ap.skip = SkipExpired
	default:
		ap.skip = SkipNotActive
	}
	return ap
}

// keyKept reports whether a delivers the field the contract says the
// record key is, unchanged.
func keyKept(ct *agreements.DataContract, a *agreements.Agreement) bool {
	if ct.Key == "" {
		return false
	}
	for _, fr := range a.Fields {
		if fr.Name == ct.Key {
			return fr.Transform.Kind == agreements.Keep
		}
	}
	return false
}

// agreementDoc is the derived schema's doc: who shares with whom, why and
// on which legal basis.
func agreementDoc(a *agreements.Agreement) string {
	return fmt.Sprintf("Agreement %s: %s to %s. Purpose: %s Legal basis: %s.", a.ID, a.Provider, a.Consumer,
		sentence(a.Purpose), strings.TrimSuffix(strings.Join(strings.Fields(a.LegalBasis), " "), "."))
}

// deriver compiles the allow-listed fields of one agreement.
type deriver struct {
	c     *compiler
	ds    *datasetPlan
	a     *agreements.Agreement
	names string          // the schema's field names, for hints
	seen  map[string]bool // named types already written into the derived schema
	key   *hmacKey        // the agreement's pseudonym key, loaded on first use
}

// fieldShape is a field's type seen through a nullable union: base is the
// value's type, nullable says whether null is the union's other branch.
type fieldShape struct {
	s                 avro.Schema // the field's type, dereferenced
	union             *avro.UnionSchema
	base              avro.Schema
	nullIdx, baseIdx  int
	nullable, isUnion bool
}

// field compiles one allow-listed field: where its value comes from, how
// it is transformed and encoded, and its type in the derived schema. ok is
// false when a problem was reported.
func (d *deriver) field(fr agreements.FieldRule) (of outField, df derivedField, ok bool) {
	c, a, ds := d.c, d.a, d.ds
	i, ok := ds.byName[fr.Name]
	if !ok {
		c.addf(fr.Pos, "schema fields: "+d.names, "agreement %s: field %s is not in the schema of %s (version %d)", a.ID, fr.Name, ds.contract.Subject, ds.latest.Version)
		return of, df, false
	}
	fi := &ds.fields[i]
	spec, ok := transforms[fr.Transform.Kind]
	if c.check && argsInvalid(fr.Transform) {
		return of, df, false // reported by agreements.Validate
	}
	if !ok {
		c.addf(fr.Pos, "transforms: "+strings.Join(Transforms(), ", "), "agreement %s: field %s: unknown transform %q", a.ID, fr.Name, fr.Transform.Kind)
		return of, df, false
	}
	kind := fr.Transform.Kind
	switch {
	case kind == agreements.Keep && !fi.classified:
		c.addf(fr.Pos, "classify the field in the contract, or deliver it with pseudonymize, hash, mask or redact", "agreement %s: field %s is not classified by contract %s, so it is treated as sensitive and may not be kept", a.ID, fr.Name, ds.contract.Dataset)
		return of, df, false
	case kind == agreements.Hash && !fi.classified:
		c.addf(fr.Pos, "classify the field in the contract, or use pseudonymize (keyed)", "agreement %s: field %s is not classified by contract %s, so it is treated as sensitive and may not be hashed unkeyed", a.ID, fr.Name, ds.contract.Dataset)
		return of, df, false
	case !c.check && fi.class == agreements.Sensitive:
		if p, refused := agreements.SensitiveDelivery(a.ID, fr, fr.Pos); refused {
			c.probs = append(c.probs, p)
			return of, df, false
		}
	}
	of = outField{src: i, nullIdx: -1, redact: kind == agreements.Redact}
	df = derivedField{Name: fr.Name, Doc: transformDoc(fr.Transform)}
	sh := shapeOf(fi.schema)
	if sh.isUnion && !sh.nullable && kind != agreements.Keep && kind != agreements.Redact {
		c.addf(fr.Pos, "only keep and redact apply to a union of several types", "agreement %s: field %s: %s does not apply to the union %s", a.ID, fr.Name, kind, sh.s)
		return of, df, false
	}
	switch {
	case of.redact:
		d.redact(&of, &df, sh)
	case kind == agreements.Keep && sh.isUnion:
		d.keepUnion(&of, &df, sh)
	default:
		if !d.transform(&of, &df, fr, spec, sh) {
			return of, df, false
		}
	}
	return of, df, true
}

func shapeOf(t avro.Schema) fieldShape {
	s := deref(t)
	sh := fieldShape{s: s, base: s}
	if u, ok := s.(*avro.UnionSchema); ok {
		sh.union, sh.isUnion = u, true
		if b, ni, bi, ok := nullableBase(u); ok {
			sh.base, sh.nullIdx, sh.baseIdx, sh.nullable = b, ni, bi, true
		}
	}
	return sh
}

// redact delivers the field as null: its derived type is made nullable
// (a union with a null branch stays as it is; otherwise null is prepended).
func (d *deriver) redact(of *outField, df *derivedField, sh fieldShape) {
	of.nullIdx = 0
	switch {
	case sh.nullable:
		of.nullIdx = sh.nullIdx
		df.Type = typeJSON(sh.s, d.seen)
	case sh.isUnion:
		types := []json.RawMessage{json.RawMessage(`"null"`)}
		for j, b := range sh.union.Types() {
			if deref(b).Type() == avro.Null {
				of.nullIdx, types = j, nil
				break
			}
		}
		for _, b := range sh.union.Types() {
			if types != nil {
				types = append(types, typeJSON(b, d.seen))
			}
		}
		if types == nil {
			df.Type = typeJSON(sh.s, d.seen)
		} else {
			df.Type = rawJSON(types)
		}
	default:
		df.Type = rawJSON([]json.RawMessage{json.RawMessage(`"null"`), typeJSON(sh.s, d.seen)})
	}
	if of.nullIdx == 0 {
		df.Default = json.RawMessage("null")
	}
}

// keepUnion delivers a general union as it is, in the branch it was read.
func (d *deriver) keepUnion(of *outField, df *derivedField, sh fieldShape) {
	of.union, of.schema = true, sh.s
	df.Type = typeJSON(sh.s, d.seen)
	if sh.nullable && sh.nullIdx == 0 {
		df.Default = json.RawMessage("null")
	}
	u := sh.union
	of.enc = func(dst []byte, v *value, _ *evalState) ([]byte, error) {
		return encodeValue(dst, u.Types()[v.br], v)
	}
}

// transform delivers the field kept or transformed by spec, nullable when
// the source is. ok is false when a problem was reported.
func (d *deriver) transform(of *outField, df *derivedField, fr agreements.FieldRule, spec transformSpec, sh fieldShape) bool {
	c, a := d.c, d.a
	kind := fr.Transform.Kind
	if msg, hint := spec.check(fr.Transform, sh.base); msg != "" {
		c.addf(fr.Pos, hint, "agreement %s: field %s: %s", a.ID, fr.Name, msg)
		return false
	}
	var t json.RawMessage
	if kind == agreements.Keep {
		t = typeJSON(sh.base, d.seen)
	} else {
		t = spec.out(fr.Transform, sh.base)
	}
	if sh.nullable {
		of.nullIdx, of.baseIdx = sh.nullIdx, sh.baseIdx
		pair := make([]json.RawMessage, 2)
		pair[sh.nullIdx], pair[sh.baseIdx] = json.RawMessage(`"null"`), t
		t = rawJSON(pair)
		if sh.nullIdx == 0 {
			df.Default = json.RawMessage("null")
		}
	}
	df.Type = t
	if kind == agreements.Pseudonymize && d.key == nil && !c.check {
		var k []byte
		if c.in.PseudonymKey != nil {
			k = c.in.PseudonymKey(a.ID)
		}
		if len(k) == 0 {
			c.addf(fr.Pos, "configure a pseudonym key per agreement", "agreement %s: no pseudonym key for field %s", a.ID, fr.Name)
			return false
		}
		d.key = newHMACKey(k)
	}
	if !c.check {
		of.enc = spec.build(fr.Transform, sh.base, transformEnv{pseudo: d.key, b64: c.opts.pseudoB64})
	}
	return true
}

// agreementFilter compiles the agreement's row filter (nil when it has
// none or it does not compile).
func (c *compiler) agreementFilter(ds *datasetPlan, a *agreements.Agreement, pos agreements.Pos, names string) cel.Program {
	if a.Filter == "" {
		return nil
	}
	prg, ast, msg := compileCEL(ds.env, a.Filter, c.check)
	switch {
	case prg == nil && msg == "":
		// a syntax error, reported by agreements.Validate
	case msg != "":
		c.addf(pos, "filters are boolean CEL over `record`; fields: "+names, "agreement %s: filter: %s", a.ID, msg)
	default:
		ds.asts = append(ds.asts, ast)
		fields, every := referencedFields(ast)
		ds.use(fieldUse{kind: useFilter, agreement: a.ID}, fields, every)
	}
	return prg
}

// checkAgreementFreshness: an agreement's max_age needs the contract's
// event time and must be stricter than the contract's own (when the two can
// be ranked: both plain, or both in business time).
func (c *compiler) checkAgreementFreshness(ds *datasetPlan, a *agreements.Agreement, pos agreements.Pos) {
	if a.MaxAge.IsZero() {
		return
	}
	fr := ds.contract.Freshness
	var cmp int
	ranked := false
	if fr != nil && !fr.MaxAge.IsZero() {
		cmp, ranked = calendar.Compare(a.MaxAge, c.cals[agreementCalendar(a, fr)], fr.MaxAge, c.cals[fr.Calendar])
	}
	switch {
	case c.check && (fr == nil || fr.EventTime == "" || ranked && cmp > 0):
		// reported by agreements.Validate
	case ds.fresh == nil:
		c.addf(pos, "give the contract a freshness event_time", "agreement %s: freshness max_age %s needs an event time, and contract %s has none", a.ID, a.MaxAge, ds.contract.Dataset)
	case ranked && cmp >= 0:
		c.addf(pos, fmt.Sprintf("use less than %s, or drop it to inherit the contract's", fr.MaxAge), "agreement %s: freshness max_age %s is not stricter than contract %s's %s", a.ID, a.MaxAge, ds.contract.Dataset, fr.MaxAge)
	}
}

// agreementCalendar is the calendar id an agreement's freshness counts in:
// its own, else its contract's.
func agreementCalendar(a *agreements.Agreement, fr *agreements.Freshness) string {
	if a.Calendar == "" && fr != nil {
		return fr.Calendar
	}
	return a.Calendar
}

// agreementMaxAge is the agreement's own max age bound, in its calendar.
func (c *compiler) agreementMaxAge(ds *datasetPlan, a *agreements.Agreement, pos agreements.Pos) ageBound {
	cal, ok := c.calendar(agreementCalendar(a, ds.contract.Freshness), a.MaxAge, pos, "agreement "+a.ID)
	if !ok {
		return ageBound{}
	}
	return newAgeBound(a.MaxAge, cal)
}

// deriveSchema parses the derived record, registers it (when the input can)
// and sets the wire-format header deliveries carry. It reports false when
// a problem was reported.
func (c *compiler) deriveSchema(ap *agreementPlan, a *agreements.Agreement, rec derivedRecord, localID int) bool {
	js, err := json.Marshal(rec)
	if err != nil {
		c.addf(a.Pos, "", "agreement %s: derived schema: %v", a.ID, err)
		return false
	}
	schema, err := avro.ParseWithCache(string(js), "", &avro.SchemaCache{})
	if err != nil {
		c.addf(a.Pos, "", "agreement %s: derived schema does not parse: %v", a.ID, err)
		return false
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, js, "", "  ")
	pretty.WriteByte('\n')
	ap.info.Schema, ap.info.SchemaJSON = schema, pretty.String()
	ap.info.SchemaID = localID
	if c.in.RegisterDerived != nil {
		id, err := c.in.RegisterDerived(ap.info.Subject, schema)
		if err != nil {
			c.addf(a.Pos, "is the registry reachable?", "agreement %s: registering derived schema %s: %v", a.ID, ap.info.Subject, err)
			return false
		}
		ap.info.SchemaID = id
	}
	ap.header[0] = 0
	binary.BigEndian.PutUint32(ap.header[1:], uint32(ap.info.SchemaID))
	return true
}

// sentence folds whitespace and ends text with a full stop.
func sentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// argsInvalid reports transform arguments agreements.Validate refuses
// without a schema (so Check does not report them twice).
func argsInvalid(t agreements.Transform) bool {
	switch t.Kind {
	case agreements.Keep, agreements.Redact, agreements.Pseudonymize, agreements.Hash:
		return false
	case agreements.Truncate:
		return t.N < 1
	case agreements.Mask:
		return t.N < 0
	case agreements.Generalize:
		if t.Unit != "" {
			return t.Bucket != 0 || (t.Unit != "year" && t.Unit != "month" && t.Unit != "day")
		}
		return !(t.Bucket > 0) || math.IsInf(t.Bucket, 0)
	}
	return true // unknown kind
}

func transformDoc(t agreements.Transform) string {
	switch t.Kind {
	case agreements.Keep:
		return "kept as provided"
	case agreements.Redact:
		return "redacted: always null"
	case agreements.Pseudonymize:
		return "pseudonymised: keyed HMAC-SHA256, stable within this agreement only"
	case agreements.Hash:
		return "hashed: SHA-256, hex"
	case agreements.Truncate:
		return fmt.Sprintf("truncated to its first %d characters", t.N)
	case agreements.Mask:
		return fmt.Sprintf("masked: all but the last %d characters replaced by *", t.N)
	case agreements.Generalize:
		if t.Unit != "" {
			return "generalised to the start of its " + t.Unit
		}
		return fmt.Sprintf("generalised to a multiple of %v (floor)", t.Bucket)
	}
	return ""
}

// Version is the label of the plan (Input.Version).
func (p *Plan) Version() string { return p.version }

// Datasets lists the datasets of the plan, sorted.
func (p *Plan) Datasets() []string { return append([]string(nil), p.names...) }

// Contract returns the contract of a dataset.
func (p *Plan) Contract(dataset string) (*agreements.DataContract, bool) {
	ds := p.datasets[dataset]
	if ds == nil {
		return nil, false
	}
	ct := cloneContract(ds.contract)
	return &ct, true
}

// Agreements returns the compiled agreements of a dataset, ordered by id
// (the order of Decision.Outcomes).
func (p *Plan) Agreements(dataset string) []AgreementInfo {
	ds := p.datasets[dataset]
	if ds == nil {
		return nil
	}
	out := make([]AgreementInfo, len(ds.agreements))
	for i, ap := range ds.agreements {
		out[i] = ap.info
	}
	return out
}

// Agreement returns a compiled agreement by id (with its derived schema).
func (p *Plan) Agreement(id string) (AgreementInfo, bool) {
	for _, ds := range p.datasets {
		for _, ap := range ds.agreements {
			if ap.info.ID == id {
				return ap.info, true
			}
		}
	}
	return AgreementInfo{}, false
}

// DerivedSubjects lists the registry subjects of all derived schemas, sorted.
func (p *Plan) DerivedSubjects() []string { return append([]string(nil), p.derived...) }

// AllowsSchema reports whether records of dataset written with schema id are
// accepted (a version of the dataset's subject that resolves to the plan's).
func (p *Plan) AllowsSchema(dataset string, id int) bool {
	ds := p.datasets[dataset]
	if ds == nil {
		return false
	}
	_, ok := ds.writers[id]
	return ok
}

// SchemaVersions returns the schema ids of a dataset's subject the plan
// accepts, sorted, and the latest (reader) id.
func (p *Plan) SchemaVersions(dataset string) (accepted []int, latest int) {
	ds := p.datasets[dataset]
	if ds == nil {
		return nil, 0
	}
	for id := range ds.writers {
		accepted = append(accepted, id)
	}
	sort.Ints(accepted)
	return accepted, ds.latest.ID
}

// Calendar is the working calendar id of the policy the plan was compiled
// from; ok is false when the policy has none by that id.
func (p *Plan) Calendar(id string) (*calendar.Calendar, bool) {
	for i := range p.src.Calendars {
		if cal := p.src.Calendars[i].Calendar(); cal != nil && cal.ID() == id {
			return cal, true
		}
	}
	return nil, false
}

// AgreementFreshness is an agreement's own silence SLA: its freshness
// expected_every (zero when it sets none) and the calendar that counts in
// (its own, else its contract's; nil for wall time). ok is false when the
// plan has no such agreement, or names a calendar it does not have.
func (p *Plan) AgreementFreshness(id string) (every calendar.Duration, cal *calendar.Calendar, ok bool) {
	info, ok := p.Agreement(id)
	if !ok {
		return calendar.Duration{}, nil, false
	}
	for i := range p.src.Agreements {
		a := &p.src.Agreements[i]
		if a.ID != info.ID {
			continue
		}
		var fr *agreements.Freshness
		if c, ok := p.Contract(a.Provider); ok {
			fr = c.Freshness
		}
		name := agreementCalendar(a, fr)
		if name == "" {
			return a.ExpectedEvery, nil, true
		}
		cal, ok := p.Calendar(name)
		return a.ExpectedEvery, cal, ok
	}
	return calendar.Duration{}, nil, false
}
