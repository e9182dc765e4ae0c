package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Stored terms (issue 13): an agreement's state applies to one recorded
// version of its terms, which a file may not hold at all (proposed through
// POST /api/v1/agreements, or by accepting an access request) or may hold
// in another version (terms proposed through the API after the file's).
// The plan compiles, for every agreement with a state, the terms that state
// applies to, with its status; files only feed the store (SyncFile).

// termsKey names one immutable document version.
type termsKey struct {
	id      string
	version int
}

// withStoredTerms returns the agreements the plan compiles: for each id
// with a state, the terms of the document version the state applies to
// with the state's status; for each id of the files with no state yet, the
// file's terms as proposed (overlayStates). Stored terms that no longer
// validate against set's agencies, contracts and calendars (a contract
// changed under them) are left out and described in leftOut: one
// agreement must not refuse the whole plan. Approvals and history are
// never compiled (the store, not a document, holds them).
func (b *planBuilder) withStoredTerms(ctx context.Context, set *agreements.Set, states map[string]store.AgreementState) (out *agreements.Set, leftOut []string) {
	out = overlayStates(set, states)
	if b.steward == nil {
		return out, nil
	}
	inFiles := map[string]int{}
	for i, a := range out.Agreements {
		inFiles[a.ID] = i
	}
	ids := make([]string, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	drop := map[string]bool{}
	for _, id := range ids {
		st := states[id]
		i, fromFile := inFiles[id]
		if fromFile && out.Agreements[i].ContentHash() == st.ContentHash {
			continue // the file's terms, validated with the directory
		}
		a, problem := b.storedAgreement(ctx, set, st)
		switch {
		case problem != "":
			leftOut = append(leftOut, problem)
			drop[id] = fromFile
		case fromFile:
			out.Agreements[i] = *a
		default:
			out.Agreements = append(out.Agreements, *a)
		}
	}
	if len(drop) > 0 {
		out.Agreements = slices.DeleteFunc(out.Agreements, func(a agreements.Agreement) bool {
			_, d := drop[a.ID]
			return d
		})
	}
	return out, leftOut
}

// storedAgreement is the recorded terms st applies to, with st's status,
// validated against set; problem says why it cannot be compiled instead.
func (b *planBuilder) storedAgreement(ctx context.Context, set *agreements.Set, st store.AgreementState) (*agreements.Agreement, string) {
	if st.Version == 0 {
		return nil, fmt.Sprintf("agreement %s left out: its state (%s) names no recorded terms", st.ID, st.Status)
	}
	a, err := b.storedTermsOf(ctx, st.ID, st.Version)
	if err != nil {
		return nil, fmt.Sprintf("agreement %s left out: reading its terms: %v", st.ID, err)
	}
	c := *a
	c.Status, c.Approvals, c.History = agreements.StatusProposed, nil, nil
	probe := &agreements.Set{Agencies: set.Agencies, Contracts: set.Contracts, Calendars: set.Calendars, Agreements: []agreements.Agreement{c}}
	if probs := agreements.Validate(probe); len(probs) > 0 {
		return nil, fmt.Sprintf("agreement %s (version %d, %s) left out: its terms do not validate against the contracts in force: %v", st.ID, st.Version, st.Status, probs)
	}
	if h := c.ContentHash(); h != st.ContentHash {
		return nil, fmt.Sprintf("agreement %s left out: version %d has content hash %s, its state %s", st.ID, st.Version, h, st.ContentHash)
	}
	c.Status = st.Status
	return &c, ""
}

// storedTermsOf parses a recorded version of an agreement's terms, once:
// a version never changes, and every build reads the terms of every state.
func (b *planBuilder) storedTermsOf(ctx context.Context, id string, version int) (*agreements.Agreement, error) {
	k := termsKey{id, version}
	if a, ok := b.terms[k]; ok {
		return a, nil
	}
	a, err := b.steward.TermsOf(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errors.New("no terms")
	}
	if b.terms == nil {
		b.terms = map[termsKey]*agreements.Agreement{}
	}
	b.terms[k] = a
	return a, nil
}

// reportLeftOut logs each stored agreement the plan last built left out
// and names them under "agreements" in /readyz's details. The exchange
// stays ready: every other agreement delivers.
func (a *App) reportLeftOut() {
	for _, p := range a.builder.leftOut {
		a.log.Error("agreement not compiled: it delivers nothing until its terms validate again (propose terms that fit the contract)", "problem", p)
	}
	a.http.SetDetail("agreements", strings.Join(a.builder.leftOut, "; "))
}
