package agreements

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// MarshalAgreement writes a's terms and status as an Agreement document
// that Load reads back to the same terms (ContentHash unchanged): id,
// parties, purpose, legal basis, validity, the allow-list in order with
// each transform in its YAML form, filter, freshness and status. Approvals
// and history are not written: they come from steward actions, not from
// files. comment, when not empty, heads the document (each line a # line).
func MarshalAgreement(a *Agreement, comment string) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode, HeadComment: comment}
	add := func(key string, v *yaml.Node) { doc.Content = append(doc.Content, str(key), v) }
	add("kind", str(KindAgreement))
	add("id", str(a.ID))
	add("provider", str(a.Provider))
	add("consumer", str(a.Consumer))
	add("purpose", str(a.Purpose))
	add("legal_basis", str(a.LegalBasis))
	if !a.ValidFrom.IsZero() {
		add("valid_from", str(a.ValidFrom.UTC().Format(time.RFC3339Nano)))
	}
	if !a.ValidUntil.IsZero() {
		add("valid_until", str(a.ValidUntil.UTC().Format(time.RFC3339Nano)))
	}
	fields := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range a.Fields {
		t, err := transformNode(f.Transform)
		if err != nil {
			return nil, fmt.Errorf("agreement %s: field %s: %w", a.ID, f.Name, err)
		}
		fields.Content = append(fields.Content, str(f.Name), t)
	}
	add("fields", fields)
	if a.Filter != "" {
		add("filter", str(a.Filter))
	}
	if fr := freshnessNode(a); fr != nil {
		add("freshness", fr)
	}
	if a.Status != "" {
		add("status", str(string(a.Status)))
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("agreement %s: encoding YAML: %w", a.ID, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("agreement %s: encoding YAML: %w", a.ID, err)
	}
	return buf.Bytes(), nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func mapping(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: kv, Style: yaml.FlowStyle}
}

func number(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s} }

// transformNode is t as an agreement's fields: entry writes it.
func transformNode(t Transform) (*yaml.Node, error) {
	switch t.Kind {
	case Keep, Redact, Pseudonymize, Hash:
		return str(string(t.Kind)), nil
	case Truncate:
		return mapping(str("truncate"), number(strconv.Itoa(t.N))), nil
	case Mask:
		return mapping(str("mask"), mapping(str("keep_last"), number(strconv.Itoa(t.N)))), nil
	case Generalize:
		if t.Unit != "" {
			return mapping(str("generalize"), str(t.Unit)), nil
		}
		b := strconv.FormatFloat(t.Bucket, 'g', -1, 64)
		tag := "!!float"
		if t.Bucket == float64(int64(t.Bucket)) {
			tag = "!!int"
		}
		return mapping(str("generalize"), mapping(str("bucket"), &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: b})), nil
	}
	return nil, fmt.Errorf("unknown transform %q", t.Kind)
}

// freshnessNode is the agreement's freshness block, nil when it sets none.
func freshnessNode(a *Agreement) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	if !a.MaxAge.IsZero() {
		n.Content = append(n.Content, str("max_age"), str(a.MaxAge.String()))
	}
	if !a.ExpectedEvery.IsZero() {
		n.Content = append(n.Content, str("expected_every"), str(a.ExpectedEvery.String()))
	}
	if a.Calendar != "" {
		n.Content = append(n.Content, str("calendar"), str(a.Calendar))
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}
