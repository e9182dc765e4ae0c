package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/agreements"
)

// Approval is one steward's approval of one proposal of an agreement.
type Approval struct {
	AgreementID string
	// Round is the Seq of the transition that opened the proposal approved
	// (the seed transition for approvals seeded from a file). Approvals of
	// an earlier round never count again, even for the same content hash.
	Round       int
	Agency      string
	Steward     string
	At          time.Time
	ContentHash string
}

// Lifecycle is everything the store holds about one agreement's lifecycle.
type Lifecycle struct {
	AgreementID string
	// LatestVersion is the agreement's latest document version.
	LatestVersion int
	// Transitions, oldest first, with Seq set.
	Transitions []Transition
	// Approvals of every round, oldest first.
	Approvals []Approval
}

// Seq is the Seq of the latest transition, 0 before any.
func (l Lifecycle) Seq() int {
	if n := len(l.Transitions); n > 0 {
		return l.Transitions[n-1].Seq
	}
	return 0
}

// State is the agreement's lifecycle state: its latest transition. Status
// is "" before any transition: the agreement has no lifecycle state yet
// and delivers nothing.
func (l Lifecycle) State() AgreementState {
	n := len(l.Transitions)
	if n == 0 {
		return AgreementState{ID: l.AgreementID}
	}
	t := l.Transitions[n-1]
	return AgreementState{ID: l.AgreementID, Status: t.To, ContentHash: t.ContentHash, Version: t.Version, ValidUntil: t.ValidUntil, Changed: t.At}
}

// LifecycleChange is what one action records: approvals, then transitions
// in order, each starting where the one before ended.
type LifecycleChange struct {
	Approvals   []Approval
	Transitions []Transition
}

// LifecycleStore keeps agreements' lifecycle state, transitions and
// approvals. Package stewardship is its one writer besides the runtime's
// expiry (AddTransition).
type LifecycleStore interface {
	LifecycleReader
	// Lifecycle returns an agreement's lifecycle; ErrNotFound when no
	// agreement document has that id.
	Lifecycle(ctx context.Context, agreementID string) (Lifecycle, error)
	// Act runs one action in one database transaction, serialised with
	// every other action on the agreement: it reads the lifecycle, calls
	// decide with it (decide must not block or do I/O: it may run while
	// other writers wait) and records the change decide returns after
	// Lifecycle.Settle checks it. An error of decide is returned as is
	// (wrapped) and nothing is recorded. It returns the lifecycle after
	// the change. ErrNotFound when no agreement document has that id.
	Act(ctx context.Context, agreementID string, decide func(Lifecycle) (LifecycleChange, error)) (Lifecycle, error)
}

// Settle checks c against l and returns it as Act records it: transitions
// with Seq, Version (default l.LatestVersion), At (default now) and, when
// empty, ContentHash and ValidUntil carried over from the state; approvals
// with Round (default the latest Seq before c's transitions, or 1 for a
// seed) and At. It refuses (ErrConflict) a transition whose From is not
// the status it would leave, and (agreements.ErrTransition) a move the
// lifecycle has no edge for — except the first transition of an agreement,
// which starts from "" (recorded or seeded), and a terms change: to
// proposed with a different content hash, from any status but a final one.
func (l Lifecycle) Settle(c LifecycleChange, now time.Time) (LifecycleChange, error) {
	now = now.UTC().Truncate(time.Microsecond)
	st, seq := l.State(), l.Seq()
	round := max(seq, 1)
	for i, a := range c.Approvals {
		if err := checkTexts("approval: ", "agency", a.Agency, "steward", a.Steward, "content hash", a.ContentHash); err != nil {
			return c, err
		}
		if a.Agency == "" || a.Steward == "" || a.ContentHash == "" {
			return c, errors.New("approval: agency, steward and content hash are required")
		}
		a.AgreementID = l.AgreementID
		if a.Round == 0 {
			a.Round = round
		}
		if a.At.IsZero() {
			a.At = now
		}
		a.At = a.At.UTC().Truncate(time.Microsecond)
		c.Approvals[i] = a
	}
	for i, t := range c.Transitions {
		t.AgreementID = l.AgreementID
		if err := t.checkAfter(st); err != nil {
			return c, err
		}
		seq++
		t.Seq = seq
		if t.Version == 0 {
			t.Version = l.LatestVersion
		}
		if t.ContentHash == "" {
			t.ContentHash, t.ValidUntil = st.ContentHash, st.ValidUntil
		}
		if t.At.IsZero() {
			t.At = now
		}
		t.At, t.ValidUntil = t.At.UTC().Truncate(time.Microsecond), utcMicro(t.ValidUntil)
		c.Transitions[i] = t
		st = AgreementState{ID: l.AgreementID, Status: t.To, ContentHash: t.ContentHash, Version: t.Version, ValidUntil: t.ValidUntil, Changed: t.At}
	}
	return c, nil
}

// checkAfter refuses t after state st (see Lifecycle.Settle).
func (t Transition) checkAfter(st AgreementState) error {
	if err := checkTexts("transition: ", "by", t.By, "reason", t.Reason, "agreement id", t.AgreementID, "content hash", t.ContentHash); err != nil {
		return err
	}
	if t.By == "" {
		return fmt.Errorf("agreement %s: transition: who made it is required", t.AgreementID)
	}
	if !t.To.Valid() {
		return fmt.Errorf("agreement %s: %q is not a lifecycle status: %w", t.AgreementID, t.To, agreements.ErrTransition)
	}
	if t.From != st.Status {
		if st.Status == "" {
			return fmt.Errorf("agreement %s has no lifecycle state yet, not %s: %w", t.AgreementID, t.From, ErrConflict)
		}
		return fmt.Errorf("agreement %s is %s, not %s: %w", t.AgreementID, st.Status, t.From, ErrConflict)
	}
	if st.Status == "" {
		return nil // the first transition: recorded or seeded
	}
	termsChange := t.To == agreements.StatusProposed && t.ContentHash != "" && t.ContentHash != st.ContentHash && !st.Status.Final()
	if termsChange {
		return nil
	}
	return t.CheckEdge()
}

func utcMicro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// ApplyOne is the decide function of AddTransition: it records t alone.
func ApplyOne(t Transition) func(Lifecycle) (LifecycleChange, error) {
	return func(Lifecycle) (LifecycleChange, error) {
		return LifecycleChange{Transitions: []Transition{t}}, nil
	}
}
