package agreements

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTransition is wrapped by every error of Transition and Approve.
var ErrTransition = errors.New("lifecycle")

// Statuses lists every lifecycle status, in lifecycle order.
var Statuses = []Status{StatusDraft, StatusProposed, StatusApproved, StatusActive, StatusSuspended, StatusRevoked, StatusExpired}

// transitions is the lifecycle state machine: the statuses reachable from
// each status. Revoked and expired are final. A draft or proposal that is
// abandoned is revoked (withdrawn); a proposal sent back for changes returns
// to draft, which clears its approvals.
var transitions = map[Status][]Status{
	StatusDraft:     {StatusProposed, StatusRevoked},
	StatusProposed:  {StatusDraft, StatusApproved, StatusRevoked},
	StatusApproved:  {StatusActive, StatusRevoked, StatusExpired},
	StatusActive:    {StatusSuspended, StatusRevoked, StatusExpired},
	StatusSuspended: {StatusActive, StatusRevoked, StatusExpired},
	StatusRevoked:   nil,
	StatusExpired:   nil,
}

// Valid reports whether s is one of the lifecycle statuses.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s == StatusRevoked || s == StatusExpired }

// CanTransition reports whether the state machine has an edge from → to.
// It does not check the conditions on the edge (approvals, validity
// window); Transition does.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ProviderAgency is the agency part of the provider dataset id
// (`health` of `health.immunisations`).
func (a *Agreement) ProviderAgency() string {
	agency, _, _ := strings.Cut(a.Provider, ".")
	return agency
}

// Transition moves the agreement to status to, recording who, when and why
// in History. It refuses, with an error wrapping ErrTransition:
//   - an edge the state machine does not have (revoked and expired are final);
//   - approved without an approval by a steward of the provider's agency and
//     one by a different steward of the consumer's agency;
//   - active outside the validity window [valid_from, valid_until);
//   - expired before valid_until;
//   - suspended or revoked without a reason;
//   - an empty `by`, a zero `at`, or `at` before the previous transition.
//
// Going back to draft clears the approvals: the text will change and must
// be approved again.
func (a *Agreement) Transition(to Status, by string, at time.Time, reason string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: agreement %s: cannot go from %s to %s: %s", ErrTransition, a.ID, a.Status, to, fmt.Sprintf(format, args...))
	}
	if !to.Valid() {
		return fail("unknown status (want one of %s)", statusList())
	}
	if !a.Status.Valid() {
		return fail("current status is not a lifecycle status")
	}
	if a.Status.Final() {
		return fail("%s is final", a.Status)
	}
	if !CanTransition(a.Status, to) {
		return fail("not a lifecycle step (from %s: %s)", a.Status, joinStatuses(transitions[a.Status]))
	}
	if strings.TrimSpace(by) == "" {
		return fail("who made the change is required")
	}
	if at.IsZero() {
		return fail("the time of the change is required")
	}
	if n := len(a.History); n > 0 && at.Before(a.History[n-1].At) {
		return fail("%s is before the previous transition at %s", at.Format(time.RFC3339), a.History[n-1].At.Format(time.RFC3339))
	}
	switch to {
	case StatusApproved:
		if err := a.approvalsComplete(); err != nil {
			return fail("%v", err)
		}
		for _, ap := range a.Approvals {
			if ap.At.After(at) {
				return fail("the approval by %s at %s is later than %s", ap.Steward, ap.At.Format(time.RFC3339), at.Format(time.RFC3339))
			}
		}
	case StatusActive:
		if err := a.approvalsComplete(); err != nil {
			return fail("%v", err)
		}
		if !a.ValidFrom.IsZero() && at.Before(a.ValidFrom) {
			return fail("not valid before %s", a.ValidFrom.Format(time.RFC3339))
		}
		if !a.ValidUntil.IsZero() && !at.Before(a.ValidUntil) {
			return fail("validity ended at %s", a.ValidUntil.Format(time.RFC3339))
		}
	case StatusExpired:
		if a.ValidUntil.IsZero() || at.Before(a.ValidUntil) {
			return fail("still valid until %s; revoke it instead", a.ValidUntil.Format(time.RFC3339))
		}
	case StatusSuspended, StatusRevoked:
		if strings.TrimSpace(reason) == "" {
			return fail("a reason is required")
		}
	}
	a.History = append(a.History, Transition{From: a.Status, To: to, By: by, At: at, Reason: reason})
	if to == StatusDraft {
		a.Approvals = nil
	}
	a.Status = to
	return nil
}

// Approve records a steward's approval of a proposed agreement on behalf of
// agency, which must be the provider's or the consumer's agency. One person
// approves for one side only (two-person rule) and once. Whether steward is
// a steward of agency is checked by Set.Approve and Validate, which know the
// agencies.
func (a *Agreement) Approve(agency, steward string, at time.Time) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: agreement %s: approval by %s for %s refused: %s", ErrTransition, a.ID, steward, agency, fmt.Sprintf(format, args...))
	}
	if a.Status != StatusProposed {
		return fail("only a proposed agreement can be approved (status is %s)", a.Status)
	}
	if agency != a.ProviderAgency() && agency != a.Consumer {
		return fail("%s is neither the provider (%s) nor the consumer (%s)", agency, a.ProviderAgency(), a.Consumer)
	}
	if strings.TrimSpace(steward) == "" {
		return fail("the steward is required")
	}
	if at.IsZero() {
		return fail("the time of the approval is required")
	}
	if n := len(a.History); n > 0 && at.Before(a.History[n-1].At) {
		return fail("%s is before the proposal at %s", at.Format(time.RFC3339), a.History[n-1].At.Format(time.RFC3339))
	}
	for _, ap := range a.Approvals {
		if ap.Steward == steward && ap.Agency == agency {
			return fail("already approved at %s", ap.At.Format(time.RFC3339))
		}
		if ap.Steward == steward {
			return fail("%s already approved for %s; each side needs its own steward", steward, ap.Agency)
		}
	}
	a.Approvals = append(a.Approvals, Approval{Agency: agency, Steward: steward, At: at})
	return nil
}

// Approve approves agreement id as Agreement.Approve does, and also checks
// that steward is a steward of agency when the agency is declared in s.
func (s *Set) Approve(id, agency, steward string, at time.Time) error {
	a, ok := s.Agreement(id)
	if !ok {
		return fmt.Errorf("%w: no agreement %s", ErrTransition, id)
	}
	if ag, ok := s.Agency(agency); ok && !ag.IsSteward(steward) {
		return fmt.Errorf("%w: agreement %s: %s is not a steward of %s", ErrTransition, id, steward, agency)
	}
	return a.Approve(agency, steward, at)
}

// approvalsComplete checks for an approval by the provider's agency and one
// by the consumer's agency, given by two different people.
func (a *Agreement) approvalsComplete() error {
	provider, consumer := a.ProviderAgency(), a.Consumer
	var ps, cs []string
	for _, ap := range a.Approvals {
		if ap.Agency == provider {
			ps = append(ps, ap.Steward)
		}
		if ap.Agency == consumer {
			cs = append(cs, ap.Steward)
		}
	}
	switch {
	case len(ps) == 0 && len(cs) == 0:
		return fmt.Errorf("needs approvals by a steward of %s and of %s", provider, consumer)
	case len(ps) == 0:
		return fmt.Errorf("needs an approval by a steward of the provider %s", provider)
	case len(cs) == 0:
		return fmt.Errorf("needs an approval by a steward of the consumer %s", consumer)
	}
	for _, p := range ps {
		for _, c := range cs {
			if p != c {
				return nil
			}
		}
	}
	return fmt.Errorf("provider and consumer approvals are by the same person; two stewards are required")
}

// EffectiveStatus is the status that governs delivery at now: an agreement
// whose validity window has ended reads as expired whatever its recorded
// status (unless revoked), and an active agreement before valid_from reads
// as approved (not yet in force). Only StatusActive delivers.
func EffectiveStatus(a *Agreement, now time.Time) Status {
	switch a.Status {
	case StatusApproved, StatusActive, StatusSuspended:
		if !a.ValidUntil.IsZero() && !now.Before(a.ValidUntil) {
			return StatusExpired
		}
		if a.Status == StatusActive && !a.ValidFrom.IsZero() && now.Before(a.ValidFrom) {
			return StatusApproved
		}
	}
	return a.Status
}

func statusList() string { return joinStatuses(Statuses) }

func joinStatuses(ss []Status) string {
	if len(ss) == 0 {
		return "none"
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Replay applies transitions recorded elsewhere (a store's lifecycle log)
// to an agreement loaded from YAML, in order: each must start at the
// current status and be an edge of the state machine, and none may be
// earlier than the one before. It checks the edges, not the conditions on
// them (approvals, validity window), which were checked when the transition
// was made. On error the agreement is left unchanged.
func (a *Agreement) Replay(ts []Transition) error {
	status := a.Status
	var last time.Time
	if n := len(a.History); n > 0 {
		last = a.History[n-1].At
	}
	for i, t := range ts {
		switch {
		case t.From != status:
			return fmt.Errorf("%w: agreement %s: replayed transition %d starts at %s but the agreement is %s", ErrTransition, a.ID, i+1, t.From, status)
		case !CanTransition(t.From, t.To):
			return fmt.Errorf("%w: agreement %s: replayed transition %d from %s to %s is not a lifecycle step", ErrTransition, a.ID, i+1, t.From, t.To)
		case !last.IsZero() && t.At.Before(last):
			return fmt.Errorf("%w: agreement %s: replayed transition %d at %s is before the previous one", ErrTransition, a.ID, i+1, t.At.Format(time.RFC3339))
		}
		status, last = t.To, t.At
	}
	a.History = append(a.History, ts...)
	a.Status = status
	return nil
}
