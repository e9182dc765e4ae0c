package stewardship

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// stewardOf checks that actor is a steward, listed under its agency's
// stewards: in agencies.yaml, and that the agency is the provider's or the
// consumer; it returns the side ("provider" or "consumer") it acts for.
func (s *Service) stewardOf(actor Actor, a *agreements.Agreement, what string) (string, error) {
	if !actor.Steward || actor.Agency == "" || actor.Name == "" {
		return "", fmt.Errorf("%w: %s agreement %s needs role steward of %s or %s; %s is not a steward", ErrForbidden, what, a.ID, a.ProviderAgency(), a.Consumer, actor.by())
	}
	if actor.Agency != a.ProviderAgency() && actor.Agency != a.Consumer {
		return "", fmt.Errorf("%w: %s agreement %s needs a steward of %s or %s; %s is a steward of neither", ErrForbidden, what, a.ID, a.ProviderAgency(), a.Consumer, actor.by())
	}
	ag, ok := s.policySet().Agency(actor.Agency)
	if !ok || !ag.IsSteward(actor.Name) {
		return "", fmt.Errorf("%w: %s is not listed under stewards: of agency %s in agencies.yaml", ErrForbidden, actor.Name, actor.Agency)
	}
	if actor.Agency == a.ProviderAgency() {
		return "provider", nil
	}
	return "consumer", nil
}

// Propose records terms (one agreement document, YAML or JSON) proposed by
// a steward of either party: a new id becomes proposed; new terms of a
// known id move it back to proposed and open a new approval round; the
// same terms change nothing. The document's status:, approvals: and
// history: are refused: the lifecycle is made of actions, not text. A
// revoked or expired id is final (conflict).
func (s *Service) Propose(ctx context.Context, actor Actor, text []byte) (View, error) {
	a, err := decodeTerms(text)
	if err != nil {
		return View{}, err
	}
	// Who may propose is decided before the terms are checked against the
	// contracts: a third party learns nothing about them.
	if _, err := s.stewardOf(actor, a, "proposing"); err != nil {
		return View{}, err
	}
	if a, err = s.validateTerms(a); err != nil {
		return View{}, err
	}
	l, err := s.db.Lifecycle(ctx, a.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return View{}, err
	}
	if st := l.State(); st.Status.Final() {
		return View{}, fmt.Errorf("%w: agreement %s is %s, which is final; propose a new id", agreements.ErrTransition, a.ID, st.Status)
	}
	if _, err := s.db.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: a.ID, Status: agreements.StatusProposed, YAML: text, Author: actor.by()}); err != nil {
		return View{}, fmt.Errorf("storing the terms of agreement %s: %w", a.ID, err)
	}
	hash := a.ContentHash()
	before := 0
	l, err = s.db.Act(ctx, a.ID, func(l store.Lifecycle) (store.LifecycleChange, error) {
		before = len(l.Transitions)
		st := l.State()
		switch {
		case st.Status.Final():
			return store.LifecycleChange{}, fmt.Errorf("%w: agreement %s is %s, which is final", agreements.ErrTransition, a.ID, st.Status)
		case st.Status != "" && st.ContentHash == hash:
			return store.LifecycleChange{}, nil // the terms in force: nothing to do
		}
		reason := "terms proposed"
		if st.Status != "" {
			reason = "terms changed: approvals cleared"
		}
		return store.LifecycleChange{Transitions: []store.Transition{{From: st.Status, To: agreements.StatusProposed, By: actor.by(),
			Reason: reason, ContentHash: hash, ValidUntil: a.ValidUntil}}}, nil
	})
	if err != nil {
		return View{}, err
	}
	s.announce(ctx, a, l, before)
	return viewOf(a, l), nil
}

// decodeTerms decodes one agreement document without lifecycle keys.
func decodeTerms(text []byte) (*agreements.Agreement, error) {
	set, err := agreements.Load("proposal", text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(set.Agreements) != 1 || len(set.Agencies)+len(set.Contracts)+len(set.Calendars) > 0 {
		return nil, fmt.Errorf("%w: the body must hold exactly one Agreement document and nothing else", ErrInvalid)
	}
	a := set.Agreements[0]
	if len(a.Approvals) > 0 || len(a.History) > 0 || a.KeyPos["status"] != (agreements.Pos{}) {
		return nil, fmt.Errorf("%w: agreement %s: status, approvals and history are not terms; the lifecycle is changed by steward actions only (remove those keys)", ErrInvalid, a.ID)
	}
	a.Status = agreements.StatusProposed
	return &a, nil
}

// validateTerms validates a against the agencies, contracts and
// calendars in force, as a proposal with no approvals.
func (s *Service) validateTerms(a *agreements.Agreement) (*agreements.Agreement, error) {
	merged := &agreements.Set{}
	p := s.policySet()
	merged.Agencies, merged.Contracts, merged.Calendars = p.Agencies, p.Contracts, p.Calendars
	for _, o := range p.Agreements {
		if o.ID != a.ID {
			merged.Agreements = append(merged.Agreements, o)
		}
	}
	merged.Agreements = append(merged.Agreements, *a)
	var mine agreements.Problems
	for _, pr := range agreements.Validate(merged) {
		if pr.Pos.File == "proposal" {
			mine = append(mine, pr)
		}
	}
	if len(mine) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, mine)
	}
	return &merged.Agreements[len(merged.Agreements)-1], nil
}

// Approve records actor's approval of agreement id's terms with
// contentHash. The approval that completes the pair (a steward of each
// party, two different people, the same hash, this round) moves the
// agreement to approved, and on to active when the terms are in their
// validity window, in the same transaction.
func (s *Service) Approve(ctx context.Context, actor Actor, id, contentHash string) (View, error) {
	if strings.TrimSpace(contentHash) == "" {
		return View{}, fmt.Errorf("%w: content_hash is required: the hash of the terms you reviewed (GET /api/v1/agreements/%s)", ErrInvalid, id)
	}
	a, err := s.current(ctx, id)
	if err != nil {
		return View{}, err
	}
	side, err := s.stewardOf(actor, a, "approving")
	if err != nil {
		return View{}, err
	}
	now := s.now()
	before := 0
	l, err := s.db.Act(ctx, id, func(l store.Lifecycle) (store.LifecycleChange, error) {
		before = len(l.Transitions)
		return decideApproval(l, a, actor, side, contentHash, now)
	})
	if err != nil {
		return View{}, err
	}
	s.announce(ctx, a, l, before)
	return viewOf(a, l), nil
}

// decideApproval is Approve's decision inside the store's transaction.
func decideApproval(l store.Lifecycle, a *agreements.Agreement, actor Actor, side, hash string, now time.Time) (store.LifecycleChange, error) {
	st := l.State()
	if st.Status != agreements.StatusProposed {
		return store.LifecycleChange{}, fmt.Errorf("%w: agreement %s is %s; only a proposed agreement is approved", agreements.ErrTransition, a.ID, st.Status)
	}
	if st.ContentHash != hash || a.ContentHash() != hash {
		return store.LifecycleChange{}, fmt.Errorf("%w: agreement %s: the terms proposed have content hash %s, not %s; review them again", store.ErrConflict, a.ID, st.ContentHash, hash)
	}
	approvals := roundApprovals(l)
	for _, ap := range approvals {
		if ap.Steward == actor.Name {
			return store.LifecycleChange{}, fmt.Errorf("%w: %s already approved agreement %s for %s in this round; each party needs its own steward", store.ErrConflict, actor.Name, a.ID, ap.Agency)
		}
	}
	mine := store.Approval{Agency: actor.Agency, Steward: actor.Name, ContentHash: hash, At: now}
	c := store.LifecycleChange{Approvals: []store.Approval{mine}}
	other := a.Consumer
	if side == "consumer" {
		other = a.ProviderAgency()
	}
	var partner string
	for _, ap := range approvals {
		if ap.Agency == other && ap.ContentHash == hash {
			partner = ap.Steward
			break
		}
	}
	if partner == "" {
		return c, nil // waits for the other party
	}
	c.Transitions = append(c.Transitions, store.Transition{From: agreements.StatusProposed, To: agreements.StatusApproved, By: actor.by(), At: now,
		Reason: fmt.Sprintf("approved by %s for %s and %s for %s", partner, other, actor.Name, actor.Agency)})
	if inValidity(a, now) {
		c.Transitions = append(c.Transitions, store.Transition{From: agreements.StatusApproved, To: agreements.StatusActive, By: actor.by(), At: now,
			Reason: "activated at approval: within its validity window"})
	}
	return c, nil
}

func inValidity(a *agreements.Agreement, now time.Time) bool {
	return (a.ValidFrom.IsZero() || !now.Before(a.ValidFrom)) && (a.ValidUntil.IsZero() || now.Before(a.ValidUntil))
}

// Transition moves agreement id to status to, for a steward of either
// party: suspend (active → suspended), resume (suspended → active),
// activate (approved → active, within validity), revoke, withdraw
// (proposed → draft) and re-propose (draft → proposed). Suspend and revoke
// need a reason. Approved is reached by approvals only, expired by the
// runtime's timer only; a move the lifecycle lacks is a conflict.
func (s *Service) Transition(ctx context.Context, actor Actor, id string, to agreements.Status, reason string) (View, error) {
	if !to.Valid() {
		return View{}, fmt.Errorf("%w: %q is not a lifecycle status (want one of draft, proposed, active, suspended, revoked)", ErrInvalid, to)
	}
	a, err := s.current(ctx, id)
	if err != nil {
		return View{}, err
	}
	if _, err := s.stewardOf(actor, a, "changing the status of"); err != nil {
		return View{}, err
	}
	switch {
	case to == agreements.StatusApproved:
		return View{}, fmt.Errorf("%w: agreement %s: approved is reached by approvals (POST /api/v1/agreements/%s/approve), not by a transition", agreements.ErrTransition, id, id)
	case to == agreements.StatusExpired:
		return View{}, fmt.Errorf("%w: agreement %s: expiry is the exchange's, at valid_until; revoke it instead", agreements.ErrTransition, id)
	case (to == agreements.StatusSuspended || to == agreements.StatusRevoked) && strings.TrimSpace(reason) == "":
		return View{}, fmt.Errorf("%w: %s needs a reason", ErrInvalid, to)
	}
	now := s.now()
	before := 0
	l, err := s.db.Act(ctx, id, func(l store.Lifecycle) (store.LifecycleChange, error) {
		before = len(l.Transitions)
		st := l.State()
		if !agreements.CanTransition(st.Status, to) {
			return store.LifecycleChange{}, fmt.Errorf("%w: agreement %s is %s; no lifecycle step to %s", agreements.ErrTransition, id, st.Status, to)
		}
		if to == agreements.StatusActive && !inValidity(a, now) {
			return store.LifecycleChange{}, fmt.Errorf("%w: agreement %s is valid from %s until %s, not now", agreements.ErrTransition, id, timeText(a.ValidFrom), timeText(a.ValidUntil))
		}
		return store.LifecycleChange{Transitions: []store.Transition{{From: st.Status, To: to, By: actor.by(), At: now, Reason: reason}}}, nil
	})
	if err != nil {
		return View{}, err
	}
	s.announce(ctx, a, l, before)
	return viewOf(a, l), nil
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.UTC().Format(time.RFC3339)
}

// current is the agreement's terms its state applies to.
func (s *Service) current(ctx context.Context, id string) (*agreements.Agreement, error) {
	l, err := s.db.Lifecycle(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("agreement %s: %w", id, err)
	}
	st := l.State()
	if st.Status == "" {
		return nil, fmt.Errorf("%w: agreement %s has no lifecycle state yet (its file was not synced)", store.ErrConflict, id)
	}
	return s.terms(ctx, id, st.Version)
}

// announce sends a notice of each transition after the first before of
// l's to both parties; a notice that cannot be sent is logged by the
// notifier and never undoes the action.
func (s *Service) announce(ctx context.Context, a *agreements.Agreement, l store.Lifecycle, before int) {
	if s.notify == nil || before >= len(l.Transitions) {
		return
	}
	var ns []sla.Notice
	for _, t := range l.Transitions[before:] {
		detail := fmt.Sprintf("%s → %s by %s (terms %s)", displayStatus(t.From), t.To, t.By, shortHash(t.ContentHash))
		if t.Reason != "" {
			detail += ": " + t.Reason
		}
		for _, agency := range parties(a) {
			ns = append(ns, sla.Notice{Agency: agency, Kind: sla.KindAgreementTransition, Dataset: a.Provider, Agreement: a.ID,
				Reason: string(t.To), Detail: detail, Partition: -1, Offset: -1, At: t.At})
		}
	}
	s.notify.Send(context.WithoutCancel(ctx), ns)
}

func parties(a *agreements.Agreement) []string {
	if a.ProviderAgency() == a.Consumer {
		return []string{a.Consumer}
	}
	return []string{a.ProviderAgency(), a.Consumer}
}

func displayStatus(s agreements.Status) string {
	if s == "" {
		return "(new)"
	}
	return string(s)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// AddTransition records t through the store (store.AgreementStore's
// contract: the runtime's expiry timer uses it) and sends its notice to
// both parties, so that an expiry is announced like a steward's action.
func (s *Service) AddTransition(ctx context.Context, t store.Transition) (store.Transition, error) {
	got, err := s.db.AddTransition(ctx, t)
	if err != nil {
		return got, err
	}
	a, err := s.terms(ctx, got.AgreementID, got.Version)
	if err != nil {
		s.log.Warn("no notice of a transition: its terms cannot be read", "agreement", got.AgreementID, "to", got.To, "err", err)
		return got, nil
	}
	s.announce(ctx, a, store.Lifecycle{Transitions: []store.Transition{got}}, 0)
	return got, nil
}
