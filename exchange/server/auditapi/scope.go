package auditapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// Scope is what the principal of a request may see (IDENTITY.md "Audit
// and lineage"): everything, or the entries of its own datasets and
// agreements.
type Scope struct {
	// All sees every entry, SLA row and agency's notices.
	All bool
	// SubjectQueries may query by data subject (subject_hash): auditors.
	SubjectQueries bool
	// Who names the principal in the access log, never a secret.
	Who string
	// Agency is the agency whose notices a scoped principal reads.
	Agency string
	// Datasets the principal owns (its agency is the contract owner) and
	// Agreements it is party to (consumer, or provider of the dataset).
	Datasets, Agreements map[string]bool
}

// ScopeFunc is the scope of a request; an *auth.Error refuses it (403).
type ScopeFunc func(r *http.Request) (Scope, error)

// Access is one data-subject query, as the access log records it.
type Access struct {
	Who     string
	At      time.Time
	Purpose string
	// Query says what was asked: the path and the subject hash.
	Query string
}

// AccessLog records data-subject queries; a query is answered only once
// it is recorded.
type AccessLog func(ctx context.Context, a Access) error

// WithScope restricts every answer to the request's scope (default: every
// request sees all, for a server without authentication).
func WithScope(f ScopeFunc) Option { return func(h *Handler) { h.scope = f } }

// WithAccessLog records every data-subject query in log (default: such
// queries are refused unless no scope is set).
func WithAccessLog(log AccessLog) Option { return func(h *Handler) { h.access = log } }

// scopeOf is the request's scope; false when it answered the request.
func (h *Handler) scopeOf(w http.ResponseWriter, r *http.Request) (Scope, bool) {
	if h.scope == nil {
		return Scope{All: true, SubjectQueries: true}, true
	}
	s, err := h.scope(r)
	if err != nil {
		writeRefusal(w, err)
		return Scope{}, false
	}
	return s, true
}

// writeRefusal answers with err: its own status and body when it is an
// *auth.Error, 403 otherwise.
func writeRefusal(w http.ResponseWriter, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = auth.Forbidden("right", err.Error())
	}
	ae.Write(w, nil, auth.FormatAPI)
}

// allowsEntry reports whether the scope sees e: its dataset is the
// principal's, or it delivered to or skipped one of its agreements.
func (s Scope) allowsEntry(e *ledger.Entry) bool {
	if s.All || s.Datasets[e.Dataset] {
		return true
	}
	for _, d := range e.Deliveries {
		if s.Agreements[d.AgreementID] {
			return true
		}
	}
	for _, k := range e.Skips {
		if s.Agreements[k.AgreementID] {
			return true
		}
	}
	return false
}

// allows reports whether the scope sees a row of dataset and agreement
// (SLA rows, silences; agreement "" is the dataset's own row).
func (s Scope) allows(dataset, agreement string) bool {
	return s.All || s.Datasets[dataset] || (agreement != "" && s.Agreements[agreement])
}

// filterEntries keeps the entries the scope sees. The page's cursor stays:
// it marks where the store stopped, so paging still covers everything.
func (s Scope) filterEntries(p *ledger.Page) {
	if s.All {
		return
	}
	kept := p.Entries[:0]
	for i := range p.Entries {
		if s.allowsEntry(&p.Entries[i]) {
			kept = append(kept, p.Entries[i])
		}
	}
	p.Entries = kept
}

// subjectQuery checks and records a data-subject query: only a scope with
// SubjectQueries, with a stated purpose, and only once the access log has
// it. False when it answered the request.
func (h *Handler) subjectQuery(w http.ResponseWriter, r *http.Request, s Scope, subjectHash []byte, purpose string) bool {
	if !s.SubjectQueries {
		writeRefusal(w, auth.Forbidden(auth.RoleAuditor, "a query by data subject (subject_hash) needs role auditor"))
		return false
	}
	if h.scope == nil && h.access == nil {
		return true // no authentication: nobody to record
	}
	if purpose == "" {
		writeError(w, http.StatusBadRequest, "purpose: required with subject_hash (it is written to the access log)")
		return false
	}
	if h.access == nil {
		writeError(w, http.StatusServiceUnavailable, "no access log: data-subject queries are not served")
		return false
	}
	a := Access{Who: s.Who, At: h.now().UTC(), Purpose: purpose,
		Query: fmt.Sprintf("%s subject_hash=%s", r.URL.Path, hex.EncodeToString(subjectHash))}
	if err := h.access(r.Context(), a); err != nil {
		h.log.Error("access log write failed: data-subject query refused", "who", s.Who, "err", err)
		writeError(w, http.StatusServiceUnavailable, "access log unavailable: data-subject queries are not served")
		return false
	}
	return true
}
