package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// AccessStatus is where an access request stands.
type AccessStatus string

// The states of an access request: pending until a steward of the
// provider decides it, then accepted (an agreement was proposed) or
// rejected. A decision is final.
const (
	AccessPending  AccessStatus = "pending"
	AccessAccepted AccessStatus = "accepted"
	AccessRejected AccessStatus = "rejected"
)

// AccessRequest is a consumer agency's request for access to a dataset of
// the catalog, and the provider's decision on it. It holds what stewards
// wrote (purpose, legal basis, field names, reasons), never a record value.
type AccessRequest struct {
	ID       int64  `json:"id"`      // set by the store
	Dataset  string `json:"dataset"` // <agency>.<name>
	Provider string `json:"provider"`
	Consumer string `json:"consumer"`
	// RequestedBy is the steward of the consumer who filed it.
	RequestedBy string    `json:"requested_by"`
	Requested   time.Time `json:"requested_at"` // default: the store's now
	Purpose     string    `json:"purpose"`
	LegalBasis  string    `json:"legal_basis"`
	Fields      []string  `json:"fields"`
	// ValidUntil is the end of validity asked for; zero when none.
	ValidUntil time.Time    `json:"valid_until,omitzero"`
	Reason     string       `json:"reason,omitempty"`
	Status     AccessStatus `json:"status"`
	// DecidedBy, Decided and DecisionReason are set by the decision.
	DecidedBy      string    `json:"decided_by,omitempty"`
	Decided        time.Time `json:"decided_at,omitzero"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	// Agreement is the id of the agreement proposed on acceptance.
	Agreement string `json:"agreement,omitempty"`
}

// AccessDecision is a provider steward's answer to a pending request.
type AccessDecision struct {
	ID     int64
	Accept bool
	By     string
	At     time.Time // default: the store's now
	Reason string
	// Agreement is the proposed agreement's id (accepted only).
	Agreement string
}

// AccessRequestQuery selects access requests, newest first.
type AccessRequestQuery struct {
	// Agency keeps the requests where it is the consumer or the provider;
	// "" keeps all.
	Agency string
	// Limit bounds the answer; default and maximum MaxAccessRequests.
	Limit int
}

// MaxAccessRequests bounds AccessRequestQuery.Limit.
const MaxAccessRequests = 1000

// AccessRequests keeps the catalog's access requests.
type AccessRequests interface {
	// AddAccessRequest stores r as pending and returns it with ID, Status
	// and (when zero) Requested set.
	AddAccessRequest(ctx context.Context, r AccessRequest) (AccessRequest, error)
	// AccessRequest returns one request; ErrNotFound when there is none.
	AccessRequest(ctx context.Context, id int64) (AccessRequest, error)
	// AccessRequests returns the requests of q, newest first.
	AccessRequests(ctx context.Context, q AccessRequestQuery) ([]AccessRequest, error)
	// DecideAccessRequest records d on a pending request and returns the
	// request decided: ErrNotFound when there is none, ErrConflict when it
	// was decided already (by this call's competitor, or before).
	DecideAccessRequest(ctx context.Context, d AccessDecision) (AccessRequest, error)
}

// What both backends share of AccessRequests: the stored body and the
// rules of a decision; each backend keeps its SQL.

// PrepareAccessRequest checks r can be stored, fills its defaults, and
// returns it with its stored body (the row's id is not in the body).
func PrepareAccessRequest(r AccessRequest, now time.Time) (AccessRequest, string, error) {
	if r.Dataset == "" || r.Provider == "" || r.Consumer == "" || r.RequestedBy == "" {
		return r, "", errors.New("access request: dataset, provider, consumer and requester are required")
	}
	if r.Requested.IsZero() {
		r.Requested = now
	}
	r.Requested = r.Requested.UTC().Truncate(time.Microsecond)
	r.Status = AccessPending
	r.DecidedBy, r.Decided, r.DecisionReason, r.Agreement = "", time.Time{}, "", ""
	body, err := AccessRequestBody(r)
	return r, body, err
}

// AccessRequestBody is r as stored.
func AccessRequestBody(r AccessRequest) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encoding access request: %w", err)
	}
	return string(b), nil
}

// ParseAccessRequest reads a stored access request.
func ParseAccessRequest(id int64, body string) (AccessRequest, error) {
	var r AccessRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return r, fmt.Errorf("access request %s: %w", strconv.FormatInt(id, 10), err)
	}
	r.ID = id
	return r, nil
}

// ApplyAccessDecision is r decided by d: ErrConflict when r is not
// pending.
func ApplyAccessDecision(r AccessRequest, d AccessDecision, now time.Time) (AccessRequest, error) {
	if r.Status != AccessPending {
		return r, fmt.Errorf("access request %d is %s already: %w", r.ID, r.Status, ErrConflict)
	}
	if d.By == "" {
		return r, fmt.Errorf("access request %d: a decision needs the steward who made it", r.ID)
	}
	if d.At.IsZero() {
		d.At = now
	}
	r.Status = AccessRejected
	if d.Accept {
		r.Status = AccessAccepted
		r.Agreement = d.Agreement
	}
	r.DecidedBy, r.Decided, r.DecisionReason = d.By, d.At.UTC().Truncate(time.Microsecond), d.Reason
	return r, nil
}

// NormalizeAccessRequestQuery bounds the limit.
func NormalizeAccessRequestQuery(q AccessRequestQuery) AccessRequestQuery {
	if q.Limit <= 0 || q.Limit > MaxAccessRequests {
		q.Limit = MaxAccessRequests
	}
	return q
}
