package policy

import (
	"fmt"
	"sort"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

// IsolateSchemaProblems makes Compile quarantine a dataset whose problems
// come from its schemas instead of refusing the whole plan: every record of
// that dataset is then quarantined (schema:unresolvable, the detail naming
// the problem) and its agreements deliver nothing, while every other
// dataset, and every agreement's status, is compiled as usual. The dataset
// is listed by Plan.Broken. A dataset's problems come from its schemas when
// its subject has no live version, or when the dataset compiles on an
// earlier prefix of its versions (a newer version broke it); otherwise they
// are the documents' (a misspelt field, a missing key) and Compile refuses
// the plan, as without this option. Default off.
func IsolateSchemaProblems() Option { return func(o *options) { o.isolate = true } }

// BrokenDataset is a dataset the plan quarantines because its schemas do
// not compile with its contract and agreements.
type BrokenDataset struct {
	Dataset  string
	Subject  string
	Problems agreements.Problems
	// Detail is the quarantine reason's detail: the dataset and its first problem.
	Detail string
}

// Broken lists the datasets quarantined by IsolateSchemaProblems, sorted.
func (p *Plan) Broken() []BrokenDataset { return append([]BrokenDataset(nil), p.broken...) }

// isolating reports whether problems are collected per dataset.
func (c *compiler) isolating() bool { return c.opts.isolate && !c.check }

// own moves the problems found since from to dataset's own list (only when
// isolating; otherwise they stay where Compile reports them).
func (c *compiler) own(dataset string, from int) {
	if !c.isolating() || len(c.probs) == from {
		return
	}
	if c.dsProbs == nil {
		c.dsProbs = map[string]agreements.Problems{}
	}
	c.dsProbs[dataset] = append(c.dsProbs[dataset], c.probs[from:]...)
	c.probs = c.probs[:from]
}

// isolate decides, for each dataset with problems, whether its schemas
// caused them: then the dataset is marked broken; otherwise its problems
// become the plan's.
func (c *compiler) isolate(p *Plan) {
	names := make([]string, 0, len(c.dsProbs))
	for n := range c.dsProbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		probs := c.dsProbs[name]
		ct, ok := c.contract(name)
		if !ok || !c.schemaCaused(ct) {
			c.probs = append(c.probs, probs...)
			continue
		}
		sorted := (&compiler{probs: probs}).sorted()
		ds := p.datasets[name]
		if ds == nil { // not even its fields could be read
			ds = &datasetPlan{contract: cloneContract(ct), byName: map[string]int{}, subjectField: -1}
			p.datasets[name] = ds
			p.names = append(p.names, name)
		}
		c.markBroken(p, ds, sorted)
	}
	sort.Strings(p.names)
}

// markBroken empties a dataset's plan so that each of its records is
// quarantined with the detail, and drops its agreements' derived subjects.
func (c *compiler) markBroken(p *Plan, ds *datasetPlan, probs agreements.Problems) {
	detail := fmt.Sprintf("dataset %s is quarantined: its schemas do not compile with its contract and agreements: %s", ds.contract.Dataset, probs[0].Message)
	if len(probs) > 1 {
		detail += fmt.Sprintf(" (and %d more problems)", len(probs)-1)
	}
	drop := map[string]bool{}
	for _, ap := range ds.agreements {
		drop[ap.info.Subject] = true
	}
	kept := p.derived[:0]
	for _, s := range p.derived {
		if !drop[s] {
			kept = append(kept, s)
		}
	}
	p.derived = kept
	ds.broken = detail
	ds.agreements, ds.rules, ds.fresh, ds.uses = nil, nil, nil, nil
	ds.writers, ds.unresolvable = map[int]*dnode{}, map[int]string{}
	ds.env, ds.asts = nil, nil
	p.broken = append(p.broken, BrokenDataset{Dataset: ds.contract.Dataset, Subject: ds.contract.Subject, Problems: probs, Detail: detail})
}

func (c *compiler) contract(dataset string) (agreements.DataContract, bool) {
	for _, ct := range c.in.Contracts {
		if ct.Dataset == dataset {
			return ct, true
		}
	}
	return agreements.DataContract{}, false
}

// schemaCaused reports whether a dataset's problems come from its schemas:
// its subject has no live version (a registry state, not a document's
// fault), or the dataset compiles on an earlier prefix of its versions.
func (c *compiler) schemaCaused(ct agreements.DataContract) bool {
	versions := subjectVersions(c.in.Schemas, ct.Subject)
	if len(versions) == 0 {
		return true
	}
	for n := len(versions) - 1; n >= 1; n-- {
		if len(compileDataset(c.in, c.opts, ct, versions[:n])) == 0 {
			return true
		}
	}
	return false
}

// subjectVersions are the parsed versions of subject in schemaList, oldest first.
func subjectVersions(schemaList []schemas.SchemaVersion, subject string) []schemas.SchemaVersion {
	var out []schemas.SchemaVersion
	for _, s := range schemaList {
		if s.Subject == subject && s.Avro != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// compileDataset compiles one contract and its agreements alone on the
// given versions of its subject, registering nothing, and returns the
// problems found.
func compileDataset(in Input, opts options, ct agreements.DataContract, versions []schemas.SchemaVersion) agreements.Problems {
	sub := Input{Agencies: in.Agencies, Contracts: []agreements.DataContract{ct}, Schemas: versions,
		PseudonymKey: in.PseudonymKey, SubjectKey: in.SubjectKey, Version: in.Version}
	for _, a := range in.Agreements {
		if a.Provider == ct.Dataset {
			sub.Agreements = append(sub.Agreements, a)
		}
	}
	opts.isolate = false
	c := &compiler{in: sub, opts: opts}
	c.rv.maxDepth = opts.maxDepth
	c.compile()
	return c.probs
}
