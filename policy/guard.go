package policy

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/resolve"
)

// useKind says how a dataset's field is used.
type useKind uint8

const (
	useDelivers  useKind = iota // an agreement's allow-list
	useFilter                   // an agreement's row filter reads it
	useRule                     // a quality rule reads it
	useFreshness                // the contract's event time
	useSubject                  // the contract's data subject
)

// fieldUse is one reader of a top-level field: CheckSchema refuses a
// version that removes the field or changes its type incompatibly.
type fieldUse struct {
	field     string
	kind      useKind
	agreement string // useDelivers, useFilter
	rule      string // useRule
}

// who names the user and the field, as the subject of a sentence.
func (u fieldUse) who(dataset string) string {
	switch u.kind {
	case useDelivers:
		return "agreement " + u.agreement + " delivers field " + u.field
	case useFilter:
		return "agreement " + u.agreement + "'s filter reads field " + u.field
	case useRule:
		return "contract " + dataset + "'s quality rule " + u.rule + " reads field " + u.field
	case useFreshness:
		return "contract " + dataset + " reads its event time from field " + u.field
	default:
		return "contract " + dataset + " names field " + u.field + " as its data subject"
	}
}

// use records that a field is read; every means the expression reads the
// whole record, so every field is.
func (ds *datasetPlan) use(u fieldUse, fields []string, every bool) {
	if every {
		fields = fields[:0:0]
		for _, f := range ds.fields {
			fields = append(fields, f.name)
		}
	}
	for _, f := range fields {
		if _, ok := ds.byName[f]; ok {
			u.field = f
			ds.uses = append(ds.uses, u)
		}
	}
}

// CheckSchema tells whether candidate may become the newest version of
// subject without breaking the plan: nil, or a *schemas.GuardError naming
// the agreement (or the contract's rule) and the field. It refuses a
// version that removes a field an agreement delivers or a filter, quality
// rule, event time or data subject reads, or changes its type so that
// records written as the plan reads them today cannot be read as the new
// type; and one on which the dataset's contract and agreements would not
// compile (the plan would quarantine the dataset). Subjects of no dataset
// are accepted. It is meant for schemas.WithGuard, so that no registry
// write, whatever the compatibility level, can break an agreement.
func (p *Plan) CheckSchema(subject string, candidate avro.Schema) error {
	for _, name := range p.names {
		ds := p.datasets[name]
		if ds.contract.Subject != subject {
			continue
		}
		if err := p.checkUses(ds, candidate); err != nil {
			return err
		}
		if err := p.checkCompiles(ds, candidate); err != nil {
			return err
		}
	}
	return nil
}

// checkUses compares each used field with its type in candidate.
func (p *Plan) checkUses(ds *datasetPlan, candidate avro.Schema) error {
	if len(ds.uses) == 0 {
		return nil
	}
	rec, ok := deref(candidate).(*avro.RecordSchema)
	if !ok {
		u := ds.usesByKind()[0]
		return &schemas.GuardError{Agreement: u.agreement, Field: u.field,
			Reason: fmt.Sprintf("%s, and this version is a %s, not a record", u.who(ds.contract.Dataset), candidate.Type())}
	}
	next := map[string]avro.Schema{}
	for _, f := range rec.Fields() {
		next[f.Name()] = f.Type()
	}
	for _, u := range ds.usesByKind() {
		old := ds.fields[ds.byName[u.field]].schema
		t, ok := next[u.field]
		if !ok {
			return &schemas.GuardError{Agreement: u.agreement, Field: u.field, Reason: u.who(ds.contract.Dataset) + ", which this version removes"}
		}
		if _, probs := resolve.Resolve(old, t, p.opts.maxDepth); len(probs) > 0 {
			return &schemas.GuardError{Agreement: u.agreement, Field: u.field,
				Reason: fmt.Sprintf("%s, which this version changes from %s to %s", u.who(ds.contract.Dataset), shortType(old), shortType(t))}
		}
	}
	return nil
}

// usesByKind orders the uses so that agreements come first: a refusal
// names the agreement it protects when there is one.
func (ds *datasetPlan) usesByKind() []fieldUse {
	out := append([]fieldUse(nil), ds.uses...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	return out
}

// checkCompiles compiles the dataset alone with candidate as its newest version.
func (p *Plan) checkCompiles(ds *datasetPlan, candidate avro.Schema) error {
	versions := subjectVersions(p.src.Schemas, ds.contract.Subject)
	next := 1
	if len(versions) > 0 {
		next = versions[len(versions)-1].Version + 1
	}
	versions = append(versions, schemas.SchemaVersion{Subject: ds.contract.Subject, Version: next, ID: -1, Avro: candidate})
	probs := compileDataset(p.src, p.opts, ds.contract, versions)
	if len(probs) == 0 {
		return nil
	}
	reason := fmt.Sprintf("dataset %s would not compile on this version: %s", ds.contract.Dataset, probs[0].Message)
	if len(probs) > 1 {
		reason += fmt.Sprintf(" (and %d more problems)", len(probs)-1)
	}
	return &schemas.GuardError{Reason: reason}
}

// shortType names a field's type for a message: a primitive (with its
// logical type), a named type's name, or a union's branches.
func shortType(s avro.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case *avro.UnionSchema:
		parts := make([]string, len(t.Types()))
		for i, b := range t.Types() {
			parts[i] = shortType(b)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case avro.NamedSchema:
		return string(s.Type()) + " " + t.FullName()
	}
	return typeLabel(s)
}
