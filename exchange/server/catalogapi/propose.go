package catalogapi

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
)

// Proposer proposes an agreement on behalf of a steward: it records a's
// terms as a new agreement with status proposed, to go through approval
// like any other, and returns its id. The handler gives it only ids no
// agreement document has; one taken meanwhile is an error wrapping
// store.ErrConflict (the handler then tries the next number). An error
// wrapping ErrProposal says the terms do not fit the policy (409), an
// *auth.Error that the steward may not propose (its status).
type Proposer interface {
	Propose(ctx context.Context, by auth.Principal, a *agreements.Agreement) (id string, err error)
}

// ErrProposal marks a proposal that does not fit the policy in force.
var ErrProposal = errors.New("the proposed agreement does not fit the policy in force")

// StoreProposer proposes by storing the agreement's document (kind
// Agreement, status proposed, the YAML of agreements.MarshalAgreement)
// without a lifecycle transition: for a store without the stewardship
// service (tests of this package).
type StoreProposer struct {
	Docs store.AgreementStore
}

// Propose stores a as the agreement document of its id.
func (s StoreProposer) Propose(ctx context.Context, by auth.Principal, a *agreements.Agreement) (string, error) {
	y, err := agreements.MarshalAgreement(a, "Proposed by "+by.String())
	if err != nil {
		return "", err
	}
	if _, err := s.Docs.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: a.ID, Status: agreements.StatusProposed, YAML: y, Author: by.String()}); err != nil {
		return "", fmt.Errorf("proposing agreement %s: %w", a.ID, err)
	}
	return a.ID, nil
}

// DefaultTransform is how a requested field is delivered in the proposed
// agreement, by its classification: public, internal and personal fields
// are kept (the request named them for its purpose, and both stewards
// review the terms before approving; narrowing a personal field with
// generalize or truncate is an amendment of the proposal); a sensitive
// field (and an unclassified one, which the exchange treats as sensitive)
// is pseudonymised, or redacted when its type takes no pseudonym (a date,
// a double: agreements.SensitiveDelivery refuses keep and hash). fieldType
// is the field's Avro type in the dataset's latest schema, nil when unknown.
func DefaultTransform(class agreements.Classification, fieldType avro.Schema) agreements.Transform {
	switch class {
	case agreements.Public, agreements.Internal, agreements.Personal:
		return agreements.Transform{Kind: agreements.Keep}
	}
	ps := agreements.Transform{Kind: agreements.Pseudonymize}
	if fieldType == nil || policy.TransformFits(ps, fieldType) == nil {
		return ps
	}
	return agreements.Transform{Kind: agreements.Redact}
}

// DefaultValidity is how long a proposed agreement is valid when the
// request names no end.
const DefaultValidity = 365 * 24 * time.Hour

// proposal builds the minimised agreement of an accepted request: the
// requested fields only, each with its DefaultTransform, the request's
// purpose and legal basis, valid from now to the requested end (or
// DefaultValidity), status proposed. id is set by the caller.
func proposal(req store.AccessRequest, c *agreements.DataContract, schema avro.Schema, now time.Time) (*agreements.Agreement, error) {
	from := now.UTC().Truncate(time.Second)
	until := req.ValidUntil
	if until.IsZero() {
		until = from.Add(DefaultValidity)
	}
	if !until.After(from) {
		return nil, fmt.Errorf("access request %d: the validity asked for ended at %s", req.ID, until.Format(time.RFC3339))
	}
	a := &agreements.Agreement{
		Provider: req.Dataset, Consumer: req.Consumer, Purpose: req.Purpose, LegalBasis: req.LegalBasis,
		ValidFrom: from, ValidUntil: until, Status: agreements.StatusProposed,
	}
	types := fieldTypes(schema)
	var gone []string
	for _, name := range req.Fields {
		i := slices.IndexFunc(c.Fields, func(f agreements.FieldClass) bool { return f.Name == name })
		if i < 0 {
			gone = append(gone, name)
			continue
		}
		a.Fields = append(a.Fields, agreements.FieldRule{Name: name, Transform: DefaultTransform(c.Fields[i].Class, types[name])})
	}
	if len(gone) > 0 {
		return nil, fmt.Errorf("access request %d: contract %s no longer has the fields %s", req.ID, c.Dataset, strings.Join(gone, ", "))
	}
	return a, nil
}

// fieldTypes maps each top-level field of a record schema to its type.
func fieldTypes(s avro.Schema) map[string]avro.Schema {
	out := map[string]avro.Schema{}
	if rec, ok := s.(*avro.RecordSchema); ok {
		for _, f := range rec.Fields() {
			out[f.Name()] = f.Type()
		}
	}
	return out
}

// numbered matches an agreement id ending in -<yyyy>-<nnn>.
var numbered = regexp.MustCompile(`-(\d{4})-(\d{3,9})$`)

// maxAgreementID is agreements' bound on an id (the delivery topic holds it).
const maxAgreementID = 120

// nextNumber is one more than the highest <nnn> of the agreement ids of
// year in ids, as the examples number theirs
// (civil-registry-to-tax-2026-006).
func nextNumber(ids []string, year int) int {
	n := 0
	for _, id := range ids {
		m := numbered.FindStringSubmatch(id)
		if m == nil || m[1] != strconv.Itoa(year) {
			continue
		}
		if k, err := strconv.Atoi(m[2]); err == nil && k > n {
			n = k
		}
	}
	return n + 1
}

// agreementID is <provider agency>-to-<consumer>-<yyyy>-<nnn>, or
// <consumer>-<yyyy>-<nnn> when that would be too long.
func agreementID(provider, consumer string, year, n int) string {
	tail := fmt.Sprintf("-%04d-%03d", year, n)
	id := provider + "-to-" + consumer + tail
	if len(id) > maxAgreementID {
		id = consumer + tail
	}
	return id
}

// usedIDs lists the agreement ids of the store and of the plan in force.
func (h *Handler) usedIDs(ctx context.Context) ([]string, error) {
	docs, err := h.cfg.Documents.Documents(ctx, agreements.KindAgreement)
	if err != nil {
		return nil, fmt.Errorf("listing agreements: %w", err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	plan := h.cfg.Plan()
	for _, ds := range plan.Datasets() {
		for _, a := range plan.Agreements(ds) {
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}
