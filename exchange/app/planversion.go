package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

// planContent is what a plan is compiled from, by name ("agreement <id>",
// "contract <dataset>", "agency <id>", "schema <subject> version <n>") with
// a digest of each. The plan version hashes it, so identical documents and
// schemas give the same version on every start and every instance: schema
// ids, file names and the order things were registered in play no part
// (issue 15: the first start used to hash the registry before the derived
// schemas were registered, and reported a policy change that never happened).
type planContent map[string][sha256.Size]byte

// readPlanContent digests each document of the policy files of dir and each
// version of the subjects the contracts of set read. Derived schemas are left
// out: they follow from the documents and the source schemas.
func readPlanContent(dir string, set *agreements.Set, schemaList []schemas.SchemaVersion) (planContent, error) {
	c := planContent{}
	paths, err := agreements.Files(dir)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		docs, _, err := agreements.SplitDocuments(p, data)
		if err != nil {
			return nil, fmt.Errorf("splitting %s: %w", p, err)
		}
		for _, d := range docs {
			c.add(documentName(d.Kind, d.ID), d.YAML)
		}
	}
	subjects := map[string]bool{}
	for _, ct := range set.Contracts {
		subjects[ct.Subject] = true
	}
	for _, s := range schemaList {
		if !subjects[s.Subject] {
			continue
		}
		text := s.Text // as registered: defaults and aliases count, they change resolution
		if text == "" && s.Avro != nil {
			text = s.Avro.String()
		}
		c.add(fmt.Sprintf("schema %s version %d", s.Subject, s.Version), []byte(text))
	}
	return c, nil
}

// add digests content under name; a repeated name (refused by validation
// anyway) digests both.
func (c planContent) add(name string, content []byte) {
	h := sha256.New()
	if prev, ok := c[name]; ok {
		h.Write(prev[:])
	}
	h.Write(content)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	c[name] = sum
}

// version is the plan's label: 16 hex digits of a hash over every name and
// digest, in name order.
func (c planContent) version() string {
	h := sha256.New()
	for _, name := range c.names() {
		d := c[name]
		fmt.Fprintf(h, "%s\x00", name)
		h.Write(d[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (c planContent) names() []string {
	out := make([]string, 0, len(c))
	for name := range c {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// changesSince lists, in name order, what differs from prev: "agreement X
// changed", "schema S version 2 added", "contract D removed". Names and
// ids only, never a value of the documents.
func (c planContent) changesSince(prev planContent) []string {
	var out []string
	for _, name := range c.names() {
		old, ok := prev[name]
		switch {
		case !ok:
			out = append(out, name+" added")
		case old != c[name]:
			out = append(out, name+" changed")
		}
	}
	for _, name := range prev.names() {
		if _, ok := c[name]; !ok {
			out = append(out, name+" removed")
		}
	}
	sort.Strings(out)
	return out
}

// documentName is how logs name a document: "agreement <id>".
func documentName(kind, id string) string {
	switch kind {
	case agreements.KindAgreement:
		return "agreement " + id
	case agreements.KindDataContract:
		return "contract " + id
	case agreements.KindAgency:
		return "agency " + id
	}
	return strings.ToLower(kind) + " " + id
}
