package agreements

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/exchange-gov/exchange/agreements/calendar"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/google/cel-go/cel"
)

// MaxExprLen bounds a CEL expression; rules are one-liners, and the bound
// keeps a pathological file from stalling the parser.
const MaxExprLen = 4096

var (
	slugRe      = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	datasetRe   = regexp.MustCompile(`^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)$`)
	agreementRe = regexp.MustCompile(`^[a-z0-9]+([-_][a-z0-9]+)*$`)
	ruleNameRe  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	avroNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Limits of ids: agreement ids appear in topic names
// (deliver.<consumer>.<agreement id>, at most 249 characters in Kafka).
const (
	maxSlugLen        = 63
	maxAgreementIDLen = 120
)

var (
	classifications = []string{string(Public), string(Internal), string(Personal), string(Sensitive)}
	severities      = []string{string(SeverityError), string(SeverityWarn)}
	onStales        = []string{string(StaleQuarantine), string(StaleDeliverFlagged)}
	transformKinds  = []string{string(Keep), string(Redact), string(Pseudonymize), string(Hash), string(Truncate), string(Mask), string(Generalize)}
	generalizeUnits = []string{"year", "month", "day"}
)

// Validate checks a loaded Set and returns every problem found, sorted by
// file, line and column; nil means valid. It checks what can be judged
// without the registered schemas: required keys, enum values, id formats,
// duplicates, references between documents, classification rules for
// transforms, transform arguments, CEL syntax, validity windows, approvals
// and lifecycle history. Checks against the schemas (unknown fields,
// transform fits the field's type, CEL is boolean) are policy.Check's.
//
// References to agencies are checked only when the Set declares at least
// one agency, so that a file of contracts can be validated alone; a
// reference to a dataset is always checked, since an agreement cannot be
// judged without its contract.
func Validate(s *Set) Problems {
	v := &validator{set: s}
	v.agencies()
	v.calendars()
	v.contracts()
	v.agreements()
	v.probs.Sort()
	return v.probs
}

type validator struct {
	set   *Set
	probs Problems
}

func (v *validator) add(p Pos, hint, format string, args ...any) {
	v.probs = append(v.probs, Problem{Pos: p, Message: fmt.Sprintf(format, args...), Hint: hint})
}

// at returns the position of key's value, or fallback when it was not written.
func at(keyPos map[string]Pos, key string, fallback Pos) Pos {
	if p, ok := keyPos[key]; ok {
		return p
	}
	return fallback
}

func (v *validator) agencies() {
	first := map[string]Pos{}
	for i := range v.set.Agencies {
		a := &v.set.Agencies[i]
		v.slugID("agency", a.ID, "social-services", a.Pos, a.KeyPos, a.invalid, first)
		label := a.ID
		if label == "" {
			label = "(no id)"
		}
		if strings.TrimSpace(a.Name) == "" && !a.invalid["name"] {
			v.add(a.Pos, "add name: <display name>", "agency %s has no name", label)
		}
		if len(a.Stewards) == 0 && !a.invalid["stewards"] {
			v.add(at(a.KeyPos, "stewards", a.Pos), "list the people who may approve agreements: stewards: [first.last]", "agency %s has no stewards; no agreement of it could be approved", label)
		}
		v.text(at(a.KeyPos, "name", a.Pos), "agency name", a.Name, false)
		v.text(at(a.KeyPos, "description", a.Pos), "agency description", a.Description, true)
		seen := map[string]bool{}
		for _, s := range a.Stewards {
			v.text(at(a.KeyPos, "stewards", a.Pos), "steward name", s, false)
			if seen[s] {
				v.add(at(a.KeyPos, "stewards", a.Pos), "list each steward once", "agency %s lists steward %q twice", a.ID, s)
			}
			seen[s] = true
		}
	}
}

// slugID checks the id of a document of kind what (agency, calendar): set,
// a lowercase slug (example shows one), and not declared before (first
// holds the ids seen).
func (v *validator) slugID(what, id, example string, docPos Pos, keyPos map[string]Pos, invalid map[string]bool, first map[string]Pos) {
	idPos := at(keyPos, "id", docPos)
	switch {
	case invalid["id"]:
	case id == "":
		v.add(docPos, "add id: <lowercase slug>, e.g. "+example, "%s has no id", what)
	case !isSlug(id):
		v.add(idPos, "use lowercase letters, digits and single hyphens, starting with a letter (e.g. "+example+")", "%s id %q is not a lowercase slug", what, id)
	}
	if id == "" {
		return
	}
	if p, dup := first[id]; dup {
		v.add(idPos, "each "+what+" is declared once", "duplicate %s id %q (first declared at %s)", what, id, p)
	} else {
		first[id] = idPos
	}
}

func isSlug(s string) bool { return len(s) <= maxSlugLen && slugRe.MatchString(s) }

func (v *validator) agencyIDs() []string {
	ids := make([]string, 0, len(v.set.Agencies))
	for _, a := range v.set.Agencies {
		if a.ID != "" && !contains(ids, a.ID) {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// checkAgencyRef reports an unknown agency reference when agencies are declared.
func (v *validator) checkAgencyRef(p Pos, role, id string) {
	if len(v.set.Agencies) == 0 || id == "" {
		return
	}
	if _, ok := v.set.Agency(id); !ok {
		v.add(p, suggestHintOr(id, v.agencyIDs(), "declare it in a document of kind: Agency, or correct the id"), "%s %q is not a declared agency", role, id)
	}
}

func (v *validator) contracts() {
	firstDataset := map[string]Pos{}
	firstSubject := map[string]string{}
	for i := range v.set.Contracts {
		c := &v.set.Contracts[i]
		v.contract(c)
		dsPos := at(c.KeyPos, "dataset", c.Pos)
		if c.Dataset != "" {
			if p, dup := firstDataset[c.Dataset]; dup {
				v.add(dsPos, "a dataset has one contract; merge the two", "duplicate contract for dataset %q (first at %s)", c.Dataset, p)
			} else {
				firstDataset[c.Dataset] = dsPos
			}
		}
		if c.Subject != "" {
			if other, dup := firstSubject[c.Subject]; dup && other != c.Dataset {
				v.add(at(c.KeyPos, "subject", c.Pos), "each dataset has its own subject, usually ingress.<dataset>-value", "subject %q is already the subject of dataset %s", c.Subject, other)
			} else if !dup {
				firstSubject[c.Subject] = c.Dataset
			}
		}
	}
}

// contract checks one data contract: its identity (dataset, owner,
// subject), description, field classes and data subject, quality rules and
// freshness.
func (v *validator) contract(c *DataContract) {
	name := c.Dataset
	if name == "" {
		name = "(no dataset)"
	}
	v.contractIdentity(c, name)
	v.text(at(c.KeyPos, "description", c.Pos), "contract description", c.Description, true)
	fieldNames := v.contractFields(c, name)
	v.dataSubject(c, name, fieldNames)
	v.recordKey(c, name, fieldNames)
	v.qualityRules(c, name)
	v.contractFreshness(c, name, fieldNames)
}

// contractIdentity checks the dataset id, the owner and the subject.
func (v *validator) contractIdentity(c *DataContract, name string) {
	dsPos := at(c.KeyPos, "dataset", c.Pos)
	switch m := datasetRe.FindStringSubmatch(c.Dataset); {
	case c.invalid["dataset"]:
	case c.Dataset == "":
		v.add(c.Pos, "add dataset: <agency>.<name>, e.g. health.immunisations", "data contract has no dataset")
	case m == nil || len(c.Dataset) > 2*maxSlugLen:
		v.add(dsPos, "write <agency>.<name> in lowercase, e.g. health.immunisations", "dataset id %q is not <agency>.<name>", c.Dataset)
	case isSlug(c.Owner) && m[1] != c.Owner:
		v.add(dsPos, fmt.Sprintf("a dataset id starts with its owner: %s.%s", c.Owner, m[2]), "dataset %s is not named after its owner %s", c.Dataset, c.Owner)
	}
	ownerPos := at(c.KeyPos, "owner", c.Pos)
	switch {
	case c.invalid["owner"]:
	case c.Owner == "":
		v.add(c.Pos, "add owner: <agency id>", "contract %s has no owner", name)
	case !isSlug(c.Owner):
		v.add(ownerPos, "use the agency's id, a lowercase slug", "owner %q is not an agency id", c.Owner)
	default:
		v.checkAgencyRef(ownerPos, "owner", c.Owner)
	}
	if c.Subject == "" && !c.invalid["subject"] {
		hint := "add subject: ingress.<dataset>-value"
		if c.Dataset != "" {
			hint = "add subject: " + names.IngressSubject(c.Dataset)
		}
		v.add(c.Pos, hint, "contract %s has no subject", name)
	}
}

// contractFields checks the field classes and returns the field names.
func (v *validator) contractFields(c *DataContract, name string) []string {
	if len(c.Fields) == 0 && !c.invalid["fields"] {
		v.add(at(c.KeyPos, "fields", c.Pos), "classify every top-level field of the schema: fields: {<field>: public|internal|personal|sensitive}", "contract %s classifies no fields", name)
	}
	var fieldNames []string
	for _, f := range c.Fields {
		fieldNames = append(fieldNames, f.Name)
		if !avroNameRe.MatchString(f.Name) {
			v.add(f.Pos, "field names are Avro names: letters, digits and _, not starting with a digit", "field name %q is not a valid Avro name", f.Name)
		}
		valPos := at(c.KeyPos, "fields."+f.Name, f.Pos)
		if !contains(classifications, string(f.Class)) && !c.invalid["fields."+f.Name] {
			v.add(valPos, suggestHint(string(f.Class), classifications), "field %s has unknown classification %q", f.Name, f.Class)
		}
	}
	return fieldNames
}

// dataSubject checks that the field naming the data subject is classified
// personal or sensitive.
func (v *validator) dataSubject(c *DataContract, name string, fieldNames []string) {
	if c.DataSubject != "" {
		fc, ok := c.Field(c.DataSubject)
		switch {
		case !ok:
			v.add(at(c.KeyPos, "data_subject", c.Pos), fieldHint(c.DataSubject, fieldNames), "data_subject %q is not a classified field of %s", c.DataSubject, name)
		case fc.Class != Personal && fc.Class != Sensitive && contains(classifications, string(fc.Class)):
			v.add(at(c.KeyPos, "fields."+fc.Name, fc.Pos), "a person's identifier is personal or sensitive data", "field %s identifies the data subject but is classified %s", fc.Name, fc.Class)
		}
	}
}

// recordKey checks that the field naming the record key is a field of the
// contract.
func (v *validator) recordKey(c *DataContract, name string, fieldNames []string) {
	if c.Key == "" {
		return
	}
	if _, ok := c.Field(c.Key); !ok {
		v.add(at(c.KeyPos, "key", c.Pos), fieldHint(c.Key, fieldNames), "key %q is not a classified field of %s", c.Key, name)
	}
}

// qualityRules checks each rule's name (a reason code), CEL and severity.
func (v *validator) qualityRules(c *DataContract, name string) {
	firstRule := map[string]bool{}
	for i, q := range c.Quality {
		itemPos := at(c.KeyPos, fmt.Sprintf("quality.%d", i), c.Pos)
		namePos := at(c.KeyPos, fmt.Sprintf("quality.%d.name", i), itemPos)
		switch {
		case c.invalid[fmt.Sprintf("quality.%d.name", i)]:
		case q.Name == "":
			v.add(itemPos, "add name: <snake_case>; it becomes the reason code quality:<name>", "quality rule %d of %s has no name", i+1, name)
		case !ruleNameRe.MatchString(q.Name) || len(q.Name) > maxSlugLen:
			v.add(namePos, "use lowercase letters, digits and _ (it becomes the reason code quality:<name>)", "quality rule name %q is not snake_case", q.Name)
		case firstRule[q.Name]:
			v.add(namePos, "rule names are reason codes and must be unique within a contract", "duplicate quality rule %q in %s", q.Name, name)
		}
		firstRule[q.Name] = true
		label := q.Name
		if label == "" {
			label = fmt.Sprint(i + 1)
		}
		if c.invalid[fmt.Sprintf("quality.%d.rule", i)] {
			// reported by the loader
		} else if strings.TrimSpace(q.Rule) == "" {
			v.add(itemPos, "add rule: a CEL expression over record, e.g. record.age >= 0", "quality rule %s has no rule", label)
		} else if v.text(q.Pos, "quality rule "+label, q.Rule, true) {
			v.checkCEL(q.Rule, q.Pos, "quality rule "+label)
		}
		if !contains(severities, string(q.Severity)) && !c.invalid[fmt.Sprintf("quality.%d.severity", i)] {
			v.add(at(c.KeyPos, fmt.Sprintf("quality.%d.severity", i), itemPos), suggestHint(string(q.Severity), severities), "quality rule %s has unknown severity %q", label, q.Severity)
		}
	}
}

// contractFreshness checks the event-time field, durations and on_stale.
func (v *validator) contractFreshness(c *DataContract, name string, fieldNames []string) {
	if f := c.Freshness; f != nil {
		switch {
		case c.invalid["freshness.event_time"]:
		case f.EventTime == "":
			v.add(f.Pos, "add event_time: <field holding the event time>", "freshness of %s has no event_time", name)
		default:
			if _, ok := c.Field(f.EventTime); !ok {
				v.add(at(c.KeyPos, "freshness.event_time", f.Pos), fieldHint(f.EventTime, fieldNames), "freshness event_time %q is not a classified field of %s", f.EventTime, name)
			}
		}
		if f.MaxAge.Wall() < 0 || f.ExpectedEvery.Wall() < 0 {
			v.add(f.Pos, "durations are positive", "freshness of %s has a negative duration", name)
		}
		v.freshnessCalendar(c.KeyPos, f.Pos, c.invalid, "freshness of "+name, f.Calendar, f.MaxAge, f.ExpectedEvery)
		if f.MaxAge.IsZero() && f.ExpectedEvery.IsZero() && !c.invalid["freshness.max_age"] && !c.invalid["freshness.expected_every"] {
			v.add(f.Pos, "set max_age (staleness per record), expected_every (silence SLA) or both", "freshness of %s sets neither max_age nor expected_every", name)
		}
		if !contains(onStales, string(f.OnStale)) && !c.invalid["freshness.on_stale"] {
			v.add(at(c.KeyPos, "freshness.on_stale", f.Pos), suggestHint(string(f.OnStale), onStales), "freshness on_stale %q is not known", f.OnStale)
		}
	}
}

func fieldHint(name string, fields []string) string {
	if s := suggest(name, fields); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "name a field listed under the contract's fields"
}

func (v *validator) agreements() {
	first := map[string]Pos{}
	for i := range v.set.Agreements {
		a := &v.set.Agreements[i]
		v.agreement(a)
		if a.ID != "" {
			idPos := at(a.KeyPos, "id", a.Pos)
			if p, dup := first[a.ID]; dup {
				v.add(idPos, "agreement ids are unique; a renewal gets a new id", "duplicate agreement id %q (first at %s)", a.ID, p)
			} else {
				first[a.ID] = idPos
			}
		}
	}
}

func (v *validator) datasetIDs() []string {
	ids := make([]string, 0, len(v.set.Contracts))
	for _, c := range v.set.Contracts {
		if c.Dataset != "" && !contains(ids, c.Dataset) {
			ids = append(ids, c.Dataset)
		}
	}
	return ids
}

// agreement checks one agreement: its id, parties, terms (purpose, legal
// basis, validity), fields and their transforms, filter, stricter
// freshness and lifecycle.
func (v *validator) agreement(a *Agreement) {
	name := a.ID
	if name == "" {
		name = "(no id)"
	}
	v.agreementID(a)
	contract := v.agreementParties(a, name)
	v.agreementTerms(a, name)
	v.agreementFields(a, name, contract)
	if strings.TrimSpace(a.Filter) != "" && v.text(at(a.KeyPos, "filter", a.Pos), "filter of agreement "+name, a.Filter, true) {
		v.checkCEL(a.Filter, at(a.KeyPos, "filter", a.Pos), "filter of agreement "+name)
	}
	v.agreementFreshness(a, name, contract)
	v.lifecycle(a, name)
}

// agreementID checks the id: present, and a valid part of a topic name.
func (v *validator) agreementID(a *Agreement) {
	switch {
	case a.invalid["id"]:
	case a.ID == "":
		v.add(a.Pos, "add id: e.g. health-to-social-2026-001", "agreement has no id")
	case !agreementRe.MatchString(a.ID) || len(a.ID) > maxAgreementIDLen:
		v.add(at(a.KeyPos, "id", a.Pos), fmt.Sprintf("use lowercase letters, digits, - and _ (at most %d characters); it is part of the delivery topic name", maxAgreementIDLen), "agreement id %q is not a valid id", a.ID)
	}
}

// agreementParties checks provider and consumer and returns the provider's
// contract, nil when there is none.
func (v *validator) agreementParties(a *Agreement, name string) *DataContract {
	var contract *DataContract
	provPos := at(a.KeyPos, "provider", a.Pos)
	switch {
	case a.invalid["provider"]:
	case a.Provider == "":
		v.add(a.Pos, "add provider: <dataset id>, e.g. health.immunisations", "agreement %s has no provider", name)
	default:
		if c, ok := v.set.Contract(a.Provider); ok {
			contract = c
		} else if datasetRe.MatchString(a.Provider) {
			v.add(provPos, suggestHintOr(a.Provider, v.datasetIDs(), "load the dataset's contract with the agreement"), "agreement %s: provider %q is not a dataset with a contract", name, a.Provider)
		} else {
			v.add(provPos, "the provider is a dataset id <agency>.<name>, e.g. health.immunisations", "agreement %s: provider %q is not a dataset id", name, a.Provider)
		}
	}
	consPos := at(a.KeyPos, "consumer", a.Pos)
	switch {
	case a.invalid["consumer"]:
	case a.Consumer == "":
		v.add(a.Pos, "add consumer: <agency id>", "agreement %s has no consumer", name)
	case !isSlug(a.Consumer):
		v.add(consPos, "the consumer is an agency id, a lowercase slug", "agreement %s: consumer %q is not an agency id", name, a.Consumer)
	default:
		v.checkAgencyRef(consPos, "consumer", a.Consumer)
	}
	return contract
}

// agreementTerms checks purpose, legal basis and the validity window.
func (v *validator) agreementTerms(a *Agreement, name string) {
	if strings.TrimSpace(a.Purpose) == "" && !a.invalid["purpose"] {
		v.add(a.Pos, "state why the consumer needs the data: purpose: \"...\"", "agreement %s has no purpose", name)
	}
	if strings.TrimSpace(a.LegalBasis) == "" && !a.invalid["legal_basis"] {
		v.add(a.Pos, "cite the act and section that allow the sharing, e.g. \"Social Services Act 2019, s.12(3)\"", "agreement %s has no legal_basis", name)
	}
	v.text(at(a.KeyPos, "purpose", a.Pos), "purpose", a.Purpose, true)
	v.text(at(a.KeyPos, "legal_basis", a.Pos), "legal_basis", a.LegalBasis, true)
	if a.ValidFrom.IsZero() && !a.invalid["valid_from"] {
		v.add(a.Pos, "add valid_from: <RFC 3339 timestamp>", "agreement %s has no valid_from", name)
	}
	if a.ValidUntil.IsZero() && !a.invalid["valid_until"] {
		v.add(a.Pos, "add valid_until: <RFC 3339 timestamp>; agreements end and are renewed", "agreement %s has no valid_until", name)
	}
	if !a.ValidFrom.IsZero() && !a.ValidUntil.IsZero() && !a.ValidUntil.After(a.ValidFrom) {
		v.add(at(a.KeyPos, "valid_until", a.Pos), "valid_until must be after valid_from", "agreement %s: valid_until %s is not after valid_from %s", name, a.ValidUntil.Format(time.RFC3339), a.ValidFrom.Format(time.RFC3339))
	}
}

// agreementFields checks each field's transform, and against the
// provider's contract (when known) that it is classified and that a
// sensitive field is not delivered as it is.
func (v *validator) agreementFields(a *Agreement, name string, contract *DataContract) {
	if len(a.Fields) == 0 && !a.invalid["fields"] {
		v.add(at(a.KeyPos, "fields", a.Pos), "list the allowed fields with their transforms: fields: {<field>: keep|pseudonymize|...}", "agreement %s allows no fields", name)
	}
	var classified []string
	if contract != nil {
		for _, f := range contract.Fields {
			classified = append(classified, f.Name)
		}
	}
	for _, f := range a.Fields {
		valPos := at(a.KeyPos, "fields."+f.Name, f.Pos)
		v.transform(name, f, valPos)
		if contract == nil {
			continue
		}
		fc, ok := contract.Field(f.Name)
		if !ok {
			v.add(f.Pos, suggestHintOr(f.Name, classified, "classify it in the contract of "+contract.Dataset+" first, or remove it"), "agreement %s: field %q is not classified by the contract of %s", name, f.Name, contract.Dataset)
			continue
		}
		if fc.Class == Sensitive {
			if p, refused := SensitiveDelivery(name, f, valPos); refused {
				v.probs = append(v.probs, p)
			}
		}
	}
}

// agreementFreshness checks that a max age and a silence SLA only tighten
// the contract's, and the calendar their business time counts in.
func (v *validator) agreementFreshness(a *Agreement, name string, contract *DataContract) {
	if a.MaxAge.Wall() < 0 {
		v.add(at(a.KeyPos, "freshness.max_age", a.Pos), "durations are positive", "agreement %s: negative freshness max_age", name)
	}
	var cf *Freshness
	if contract != nil {
		cf = contract.Freshness
	}
	calID := a.Calendar
	if calID == "" && cf != nil {
		calID = cf.Calendar // inherited; an unknown one is reported with the contract
	}
	if a.Calendar != "" || calID == "" {
		v.freshnessCalendar(a.KeyPos, a.Pos, a.invalid, "agreement "+name, a.Calendar, a.MaxAge, a.ExpectedEvery)
	}
	if contract == nil {
		return
	}
	ours, theirs := v.set.CalendarOf(calID), (*calendar.Calendar)(nil)
	if cf != nil {
		theirs = v.set.CalendarOf(cf.Calendar)
	}
	if !a.MaxAge.IsZero() {
		switch {
		case cf == nil || cf.EventTime == "":
			v.add(at(a.KeyPos, "freshness.max_age", a.Pos), "add freshness: {event_time: <field>} to the contract of "+contract.Dataset, "agreement %s sets freshness max_age but the contract of %s names no event_time", name, contract.Dataset)
		case looser(a.MaxAge, ours, cf.MaxAge, theirs):
			v.add(at(a.KeyPos, "freshness.max_age", a.Pos), "an agreement may only tighten freshness; remove it or make it at most "+cf.MaxAge.String(), "agreement %s: freshness max_age %s is looser than the contract's %s", name, a.MaxAge, cf.MaxAge)
		}
	}
	if cf != nil && looser(a.ExpectedEvery, ours, cf.ExpectedEvery, theirs) {
		v.add(at(a.KeyPos, "freshness.expected_every", a.Pos), "an agreement may only tighten the silence SLA; remove it or make it at most "+cf.ExpectedEvery.String(), "agreement %s: freshness expected_every %s is looser than the contract's %s", name, a.ExpectedEvery, cf.ExpectedEvery)
	}
}

func suggestHintOr(word string, candidates []string, otherwise string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return otherwise
}

func (v *validator) transform(agreement string, f FieldRule, p Pos) {
	t := f.Transform
	if t.Kind == "" {
		return // the loader has reported the missing or malformed transform
	}
	if !contains(transformKinds, string(t.Kind)) {
		v.add(p, suggestHintOr(string(t.Kind), transformKinds, transformHint), "agreement %s: field %s has unknown transform %q", agreement, f.Name, t.Kind)
		return
	}
	switch t.Kind {
	case Truncate:
		if t.N < 1 {
			v.add(p, "truncate keeps the first N characters, N ≥ 1; to withhold the value use redact", "agreement %s: field %s: truncate %d is not at least 1", agreement, f.Name, t.N)
		}
	case Mask:
		if t.N < 0 {
			v.add(p, "keep_last is the number of trailing characters left visible, ≥ 0", "agreement %s: field %s: mask keep_last %d is negative", agreement, f.Name, t.N)
		}
	case Generalize:
		switch {
		case t.Unit != "" && t.Bucket != 0:
			v.add(p, "give either a unit or {bucket: N}", "agreement %s: field %s: generalize has both a unit and a bucket", agreement, f.Name)
		case t.Unit != "":
			if !contains(generalizeUnits, t.Unit) {
				v.add(p, suggestHint(t.Unit, generalizeUnits), "agreement %s: field %s: unknown generalize unit %q", agreement, f.Name, t.Unit)
			}
		case math.IsNaN(t.Bucket) || math.IsInf(t.Bucket, 0) || t.Bucket <= 0:
			v.add(p, "bucket is the width of the number bands, > 0 (e.g. {bucket: 10})", "agreement %s: field %s: generalize bucket %v is not positive", agreement, f.Name, t.Bucket)
		}
	}
}

// lifecycle checks the status, the approvals and the history.
func (v *validator) lifecycle(a *Agreement, name string) {
	statusPos := at(a.KeyPos, "status", a.Pos)
	if !a.Status.Valid() && !a.invalid["status"] {
		v.add(statusPos, suggestHintOr(string(a.Status), statusStrings(), "one of "+statusList()), "agreement %s has unknown status %q", name, a.Status)
	}
	v.approvals(a, name)
	switch a.Status {
	case StatusApproved, StatusActive, StatusSuspended:
		if err := a.approvalsComplete(); err != nil {
			v.add(statusPos, "add approvals: [{agency: <id>, steward: <name>, at: <time>}] for both parties, or set status: proposed", "agreement %s is %s but %v", name, a.Status, err)
		}
	}
	v.approvalTimes(a, name)
	v.history(a, name, statusPos)
}

// approvals checks that each approval names a party's steward and a time.
func (v *validator) approvals(a *Agreement, name string) {
	provider := a.ProviderAgency()
	for i, ap := range a.Approvals {
		p := at(a.KeyPos, fmt.Sprintf("approvals.%d", i), a.Pos)
		switch {
		case ap.Agency == "":
			v.add(p, "add agency: <provider or consumer agency>", "agreement %s: approval %d names no agency", name, i+1)
		case ap.Agency != provider && ap.Agency != a.Consumer:
			v.add(at(a.KeyPos, fmt.Sprintf("approvals.%d.agency", i), p), fmt.Sprintf("approvals come from the provider (%s) or the consumer (%s)", provider, a.Consumer), "agreement %s: approval by agency %s, which is not a party", name, ap.Agency)
		}
		if ap.Steward == "" {
			v.add(p, "add steward: <name>", "agreement %s: approval %d names no steward", name, i+1)
		} else if !v.text(at(a.KeyPos, fmt.Sprintf("approvals.%d.steward", i), p), "approval steward", ap.Steward, false) {
			// reported
		} else if ag, ok := v.set.Agency(ap.Agency); ok && !ag.IsSteward(ap.Steward) {
			v.add(at(a.KeyPos, fmt.Sprintf("approvals.%d.steward", i), p), fmt.Sprintf("stewards of %s: %s", ap.Agency, strings.Join(ag.Stewards, ", ")), "agreement %s: %s is not a steward of %s", name, ap.Steward, ap.Agency)
		}
		if ap.At.IsZero() {
			v.add(p, "add at: <RFC 3339 timestamp>", "agreement %s: approval %d has no time", name, i+1)
		}
	}
}

// approvalTimes checks that approvals are given while the agreement is
// proposed: after the last transition to proposed and no later than the
// transition to approved.
func (v *validator) approvalTimes(a *Agreement, name string) {
	var proposedAt, approvedAt time.Time
	for _, t := range a.History {
		switch t.To {
		case StatusProposed:
			proposedAt, approvedAt = t.At, time.Time{}
		case StatusApproved:
			approvedAt = t.At
		}
	}
	for i, ap := range a.Approvals {
		p := at(a.KeyPos, fmt.Sprintf("approvals.%d.at", i), at(a.KeyPos, fmt.Sprintf("approvals.%d", i), a.Pos))
		switch {
		case ap.At.IsZero():
		case !proposedAt.IsZero() && ap.At.Before(proposedAt):
			v.add(p, "approvals are given while the agreement is proposed; approve the proposal again", "agreement %s: approval by %s at %s predates the proposal at %s", name, ap.Steward, ap.At.Format(time.RFC3339), proposedAt.Format(time.RFC3339))
		case !approvedAt.IsZero() && ap.At.After(approvedAt):
			v.add(p, "an agreement is approved only once both approvals are given", "agreement %s: approval by %s at %s is later than the approval of the agreement at %s", name, ap.Steward, ap.At.Format(time.RFC3339), approvedAt.Format(time.RFC3339))
		}
	}
}

// history checks that the transitions are lifecycle steps, chained, in
// time order, attributed, and end at the status.
func (v *validator) history(a *Agreement, name string, statusPos Pos) {
	prev := Status("")
	for i, t := range a.History {
		p := at(a.KeyPos, fmt.Sprintf("history.%d", i), a.Pos)
		if !t.From.Valid() || !t.To.Valid() {
			v.add(p, "from and to are lifecycle statuses: "+statusList(), "agreement %s: history entry %d has an unknown status (%q to %q)", name, i+1, t.From, t.To)
			prev = t.To
			continue
		}
		if !CanTransition(t.From, t.To) {
			v.add(p, "allowed from "+string(t.From)+": "+joinStatuses(transitions[t.From]), "agreement %s: history entry %d goes from %s to %s, which is not a lifecycle step", name, i+1, t.From, t.To)
		}
		if prev != "" && t.From != prev {
			v.add(p, "each entry starts where the previous one ended", "agreement %s: history entry %d starts at %s but the previous one ended at %s", name, i+1, t.From, prev)
		}
		v.text(at(a.KeyPos, fmt.Sprintf("history.%d.by", i), p), "history by", t.By, false)
		v.text(at(a.KeyPos, fmt.Sprintf("history.%d.reason", i), p), "history reason", t.Reason, true)
		if t.By == "" || t.At.IsZero() {
			v.add(p, "every transition records by and at", "agreement %s: history entry %d does not say who and when", name, i+1)
		}
		if i > 0 && !t.At.IsZero() && t.At.Before(a.History[i-1].At) {
			v.add(p, "history is in time order", "agreement %s: history entry %d is earlier than entry %d", name, i+1, i)
		}
		prev = t.To
	}
	if n := len(a.History); n > 0 && a.Status.Valid() && a.History[n-1].To != a.Status {
		v.add(statusPos, "record the change in history, or correct the status", "agreement %s: status is %s but its history ends at %s", name, a.Status, a.History[n-1].To)
	}
}

func statusStrings() []string {
	out := make([]string, len(Statuses))
	for i, s := range Statuses {
		out[i] = string(s)
	}
	return out
}

// celEnv is used for syntax checks only; type checking against the schema is
// policy.Check's.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("record", cel.DynType))
})

// checkCEL reports each syntax error of expr at its position: p is where the
// expression's text starts in the file.
func (v *validator) checkCEL(expr string, p Pos, what string) {
	if len(expr) > MaxExprLen {
		v.add(p, fmt.Sprintf("keep expressions under %d characters; split the rule", MaxExprLen), "%s is too long (%d characters)", what, len(expr))
		return
	}
	for _, e := range ParseCEL(expr) {
		ep := p
		if e.Line > 1 {
			ep.Line += e.Line - 1
		}
		ep.Column += e.Column
		v.add(ep, "CEL syntax: e.g. record.age >= 0 && record.region in ['north', 'east']", "%s: CEL syntax error: %s", what, e.Message)
	}
}

// CELError is one syntax error of a CEL expression; Line is 1-based and
// Column 0-based within the expression.
type CELError struct {
	Line, Column int
	Message      string
}

// ParseCEL parses expr (syntax only) and returns its errors, sorted.
func ParseCEL(expr string) (errs []CELError) {
	env, err := celEnv()
	if err != nil {
		return []CELError{{Line: 1, Message: "CEL environment: " + err.Error()}}
	}
	defer func() {
		if r := recover(); r != nil { // never crash on outside input
			errs = []CELError{{Line: 1, Message: fmt.Sprintf("CEL parser failed: %v", r)}}
		}
	}()
	_, iss := env.Parse(expr)
	if iss == nil || iss.Err() == nil {
		return nil
	}
	for _, e := range iss.Errors() {
		line, col := e.Location.Line(), e.Location.Column()
		if line < 1 {
			line = 1
		}
		if col < 0 {
			col = 0
		}
		errs = append(errs, CELError{Line: line, Column: col, Message: shortCELMessage(e.Message)})
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Column < errs[j].Column
	})
	return errs
}

// shortCELMessage turns the parser's grammar-speak into words a steward
// reads: the prefix and the list of expected tokens are dropped, and the
// common ANTLR phrases are rephrased.
func shortCELMessage(m string) string {
	m = strings.TrimPrefix(m, "Syntax error: ")
	if i := strings.Index(m, " expecting "); i > 0 {
		m = m[:i]
	}
	switch {
	case m == "mismatched input '<EOF>'":
		return "the expression ends too early (an unclosed bracket or a missing operand?)"
	case strings.HasPrefix(m, "token recognition error at: "):
		return "unrecognised text " + strings.TrimPrefix(m, "token recognition error at: ") + " (an unclosed quote?)"
	case strings.HasPrefix(m, "mismatched input "):
		return "unexpected " + strings.TrimPrefix(m, "mismatched input ")
	case strings.HasPrefix(m, "extraneous input "):
		return "unexpected " + strings.TrimPrefix(m, "extraneous input ")
	case strings.HasPrefix(m, "no viable alternative at input "):
		return "cannot read " + strings.TrimPrefix(m, "no viable alternative at input ")
	}
	return m
}

// maxNameLen bounds a person's name (stewards, history `by`).
const maxNameLen = 100

// text reports characters that would make a reviewed text say something
// other than what a reviewer sees, or that would corrupt logs and terminals:
// bidirectional controls (the "Trojan Source" trick), other invisible
// format characters, and control characters (newlines and tabs are allowed
// in multi-line texts). Names are also bounded in length. It returns whether
// s is clean.
func (v *validator) text(p Pos, what, s string, multiline bool) bool {
	if !multiline && utf8.RuneCountInString(s) > maxNameLen {
		v.add(p, fmt.Sprintf("names are at most %d characters", maxNameLen), "%s is too long (%d characters)", what, utf8.RuneCountInString(s))
		return false
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			v.add(p, "save the file as UTF-8", "%s is not valid UTF-8", what)
			return false
		case isBidiControl(r):
			v.add(p, "remove it: it can make the text read differently from what it says", "%s contains an invisible bidirectional control character (U+%04X)", what, r)
			return false
		case multiline && (r == '\n' || r == '\t'):
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			v.add(p, "write plain text, without control or invisible format characters", "%s contains a control or invisible character (U+%04X)", what, r)
			return false
		}
	}
	return true
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// ValidateFiles loads every path (a YAML file, or a directory whose *.yaml
// and *.yml files are loaded), merges them and validates the result. The
// problems of loading and of validation come back together, sorted; err is
// set only when a file cannot be read.
func ValidateFiles(paths ...string) (*Set, Problems, error) {
	set := &Set{}
	var probs Problems
	for _, p := range paths {
		var (
			s   *Set
			err error
		)
		if fi, statErr := os.Stat(p); statErr == nil && fi.IsDir() {
			s, err = LoadDir(p)
		} else {
			s, err = LoadFile(p)
		}
		var ps Problems
		switch {
		case errors.As(err, &ps):
			probs = append(probs, ps...)
		case err != nil:
			return nil, nil, err
		}
		set.Merge(s)
	}
	probs = append(probs, Validate(set)...)
	probs.Sort()
	return set, probs, nil
}
