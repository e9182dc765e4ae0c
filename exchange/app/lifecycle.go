package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Lifecycle enforcement (issue 13): agreement states live in the store and
// only steward actions change them. Three things here read them:
//   - the gate (exchange.Gate), the workers' kill switch, polled per process;
//   - the plan: each agreement with a state is compiled from the terms that
//     state applies to (storedterms.go), with its status, whether a file
//     holds them or they were proposed through the API; a file cannot
//     change a state;
//   - the expiry timer: an agreement past valid_until moves to expired.
//
// They are on when the store implements store.LifecycleReader.

// ExpiryActor is the principal of the transitions the expiry timer records.
const ExpiryActor = "exchange"

// ExpiryReason is the reason of those transitions.
const ExpiryReason = "valid_until reached"

// overlayStates returns set with the status of every agreement taken from
// its stored state: the state's status when the state is for the file's
// terms (same content hash), else proposed (terms nobody approved deliver
// nothing). A final state (revoked, expired) holds whatever the terms: no
// file brings the id back. An agreement with no state is proposed.
// Approvals and history of files are not trusted either: they are cleared.
// set itself is left as the files say.
func overlayStates(set *agreements.Set, states map[string]store.AgreementState) *agreements.Set {
	out := *set
	out.Agreements = slices.Clone(set.Agreements)
	for i := range out.Agreements {
		a := &out.Agreements[i]
		st, ok := states[a.ID]
		switch {
		case ok && (st.Status.Final() || st.ContentHash == a.ContentHash()):
			a.Status = st.Status
		default:
			a.Status = agreements.StatusProposed
		}
		a.Approvals, a.History = nil, nil
	}
	return &out
}

// statesSignature names every state with what a plan compiles from it, so
// the reloader can tell cheaply whether the plan must be rebuilt.
func statesSignature(states map[string]store.AgreementState) string {
	ids := make([]string, 0, len(states))
	for id := range states {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		s := states[id]
		fmt.Fprintf(&b, "%s|%s|%s|%d\n", id, s.Status, s.ContentHash, s.Version)
	}
	return b.String()
}

// expirer moves agreements past their valid_until to expired, recording
// the transition as ExpiryActor: a timer, not the next record, so the state
// (and with it the plan, the ACLs and the notices) follows the instant even
// on an idle dataset. The gate refuses deliveries from that instant on
// whether or not the transition is recorded yet. Several replicas may race
// to record it: the loser's ErrConflict is expected.
type expirer struct {
	gate *exchange.Gate
	// expire records one expiry (stewardship.Service.Expire: with the
	// notices to both parties); a store.ErrConflict means another writer
	// moved the agreement first.
	expire func(ctx context.Context, id string, from agreements.Status, by, reason string, at time.Time) error
	log    *slog.Logger
	now    func() time.Time
	resync time.Duration // longest wait between two scans
}

// expires reports whether a state with this status moves to expired at
// valid_until (the state machine's edges into expired).
func expires(s agreements.Status) bool {
	return agreements.CanTransition(s, agreements.StatusExpired)
}

// run scans at every next valid_until (and every resync, for states that
// appeared since) until ctx ends. It never fails: a failed transition is
// logged and retried at the next scan.
func (x *expirer) run(ctx context.Context) error {
	for {
		next := x.expireDue(ctx)
		wait := x.resync
		if !next.IsZero() {
			wait = min(wait, next.Sub(x.now()))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// expireDue records the expiry of every due state and returns the next
// valid_until still ahead (zero: none).
func (x *expirer) expireDue(ctx context.Context) (next time.Time) {
	states, _ := x.gate.States()
	now := x.now()
	changed := false
	for _, st := range states {
		if st.ValidUntil.IsZero() || !expires(st.Status) {
			continue
		}
		if now.Before(st.ValidUntil) {
			if next.IsZero() || st.ValidUntil.Before(next) {
				next = st.ValidUntil
			}
			continue
		}
		err := x.expire(ctx, st.ID, st.Status, ExpiryActor, ExpiryReason, now)
		switch {
		case err == nil:
			changed = true
			x.log.Info("agreement expired: valid_until reached", "agreement", st.ID, "valid_until", st.ValidUntil.UTC().Format(time.RFC3339), "from", st.Status)
		case errors.Is(err, store.ErrConflict):
			changed = true // another replica (or a steward) moved it first: re-read
		case ctx.Err() == nil:
			x.log.Error("recording an agreement's expiry failed; retrying", "agreement", st.ID, "err", err)
		}
	}
	if changed {
		if err := x.gate.Refresh(ctx); err != nil && ctx.Err() == nil {
			x.log.Warn("re-reading agreement states after an expiry", "err", err)
		}
	}
	return next
}

// startLifecycle builds the gate and the expiry timer when the store keeps
// agreement states, and reads the states once so the first plan compiles
// with them. Without it (a store of an older schema) the plan's statuses
// alone decide, as before issue 13.
func (a *App) startLifecycle(ctx context.Context) error {
	lr, ok := a.db.(store.LifecycleReader)
	if !ok {
		return nil
	}
	// A database outage is ridden out as long as the index may lag.
	g, err := exchange.NewGate(lr, exchange.WithGateLogger(a.log), exchange.WithGateOutageGrace(a.cfg.Worker.WithDefaults().MaxIndexLag))
	if err != nil {
		return err
	}
	if err := g.Refresh(ctx); err != nil {
		return fmt.Errorf("lifecycle: %w", err)
	}
	a.gate = g
	a.builder.gate = g
	a.expirer = &expirer{gate: g, expire: a.steward.Expire, log: a.log.With("component", "expiry"), now: time.Now, resync: time.Second}
	return nil
}
