// The lifecycle gate: the kill switch every worker of a process consults
// before it delivers, fed from the store's agreement states and not from
// the plan, so a revocation or suspension holds within seconds whatever
// else fails to compile.

package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
)

// Gate defaults.
const (
	// DefaultGatePoll is how often the gate reads the agreement states.
	DefaultGatePoll = 500 * time.Millisecond
	// DefaultGateMaxAge is how old the states may be before the gate
	// closes: a state read at t is enforced by batches decided up to
	// t+MaxAge, so an action at t is in force by t+poll+MaxAge at worst
	// (the 2 s of issue 13 with the defaults).
	DefaultGateMaxAge = 1500 * time.Millisecond
)

// Gate holds the latest agreement states read from a store.LifecycleReader
// and decides, for each agreement of a batch, whether it may deliver. One
// gate serves every worker of a process: Run polls the store; the record
// path reads an immutable snapshot through an atomic pointer (no lock).
//
// An agreement delivers only while its stored state is active for the
// terms the plan compiled (same content hash) and before its valid_until;
// an agreement the store holds no state for never delivers. When the
// states are older than MaxAge (the store cannot be read), the gate is
// closed: workers pause before deciding a batch (WaitOpen) rather than
// skip records, so nothing is lost and nothing revoked is delivered.
//
// One exception, bounded by WithGateOutageGrace: while the store is
// unreachable (its errors wrap ledger.ErrUnavailable), the states last read
// stay in force for up to the grace. Nobody can record a suspension or
// revocation meanwhile: the stewardship service writes the same database.
// Deliveries then ride out a database outage (issue 18: each is durably
// audited in the audit topic) instead of stopping 1.5 s into it. The one
// risk left, a process that still reaches the database recording an
// action this one cannot read, is bounded by the grace; any other read
// failure closes the gate after MaxAge, as before.
type Gate struct {
	reader store.LifecycleReader
	poll   time.Duration
	maxAge time.Duration
	// outageGrace: how long the last states stay in force while the store
	// is unreachable; 0: not at all.
	outageGrace time.Duration
	log         *slog.Logger
	now         func() time.Time

	snap    atomic.Pointer[gateSnapshot]
	lastErr atomic.Pointer[error] // of the last read; nil after a success
}

// gateSnapshot is one read of the states: immutable once published.
type gateSnapshot struct {
	states map[string]store.AgreementState
	// readAt is when the read started: the states are at least this new.
	readAt time.Time
}

// GateOption configures a Gate.
type GateOption func(*Gate)

// WithGatePoll sets how often the states are read. Default DefaultGatePoll.
func WithGatePoll(d time.Duration) GateOption {
	return func(g *Gate) {
		if d > 0 {
			g.poll = d
		}
	}
}

// WithGateMaxAge sets how old the states may be before the gate closes.
// Default DefaultGateMaxAge.
func WithGateMaxAge(d time.Duration) GateOption {
	return func(g *Gate) {
		if d > 0 {
			g.maxAge = d
		}
	}
}

// WithGateOutageGrace keeps the states last read in force for up to d
// while the store is unreachable (errors wrapping ledger.ErrUnavailable),
// instead of closing the gate after MaxAge. Default 0: no grace.
func WithGateOutageGrace(d time.Duration) GateOption {
	return func(g *Gate) {
		if d > 0 {
			g.outageGrace = d
		}
	}
}

// WithGateLogger sets the logger. Default slog.Default().
func WithGateLogger(l *slog.Logger) GateOption {
	return func(g *Gate) {
		if l != nil {
			g.log = l
		}
	}
}

// WithGateClock sets the clock of the staleness bound. Default time.Now.
func WithGateClock(now func() time.Time) GateOption {
	return func(g *Gate) {
		if now != nil {
			g.now = now
		}
	}
}

// NewGate returns a closed gate over r; Run (or Refresh) opens it.
func NewGate(r store.LifecycleReader, opts ...GateOption) (*Gate, error) {
	if r == nil {
		return nil, errors.New("new gate: nil lifecycle reader")
	}
	g := &Gate{reader: r, poll: DefaultGatePoll, maxAge: DefaultGateMaxAge, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(g)
	}
	if g.maxAge < g.poll {
		return nil, fmt.Errorf("new gate: max age %v shorter than the poll interval %v: the gate would close between reads", g.maxAge, g.poll)
	}
	g.log = g.log.With("component", "lifecycle_gate")
	return g, nil
}

// Refresh reads the states once and publishes them; on failure the
// previous snapshot stays (until it is too old).
func (g *Gate) Refresh(ctx context.Context) error {
	start := g.now()
	states, err := g.reader.AgreementStates(ctx)
	if err != nil {
		err = fmt.Errorf("reading agreement states: %w", err)
		g.lastErr.Store(&err)
		return err
	}
	m := make(map[string]store.AgreementState, len(states))
	for _, s := range states {
		m[s.ID] = s
	}
	next := &gateSnapshot{states: m, readAt: start}
	// Run and a caller's Refresh may overlap: never replace newer states
	// with older ones.
	for {
		cur := g.snap.Load()
		if cur != nil && cur.readAt.After(start) {
			break
		}
		if g.snap.CompareAndSwap(cur, next) {
			break
		}
	}
	g.lastErr.Store(nil)
	return nil
}

// States returns the states last read, by agreement id (nil before the
// first read), and when that read started. The map is shared: read only.
func (g *Gate) States() (map[string]store.AgreementState, time.Time) {
	s := g.snap.Load()
	if s == nil {
		return nil, time.Time{}
	}
	return s.states, s.readAt
}

// Run polls the states until ctx ends. It never fails: a failed read is
// logged (once per run of failures) and retried; Ready reports it.
func (g *Gate) Run(ctx context.Context) error {
	t := time.NewTicker(g.poll)
	defer t.Stop()
	failing := false
	for {
		rctx, cancel := context.WithTimeout(ctx, g.maxAge)
		err := g.Refresh(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && !failing:
			g.log.Error("agreement states unreadable; deliveries pause once they are older than the bound", "err", err, "max_age", g.maxAge,
				"outage_grace", g.outageGrace, "store_unreachable", errors.Is(err, ledger.ErrUnavailable))
		case err == nil && failing:
			g.log.Info("agreement states readable again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// current returns the snapshot when it is fresh enough to decide on at
// now, else nil.
func (g *Gate) current(now time.Time) *gateSnapshot {
	s := g.snap.Load()
	if s == nil {
		return nil
	}
	age := now.Sub(s.readAt)
	if age <= g.maxAge || (age <= g.outageGrace && g.storeUnreachable()) {
		return s
	}
	return nil
}

// storeUnreachable reports whether the last read failed because the store
// could not be reached.
func (g *Gate) storeUnreachable() bool {
	p := g.lastErr.Load()
	return p != nil && errors.Is(*p, ledger.ErrUnavailable)
}

// Ready reports whether the gate is open: the states were read within
// MaxAge. Suitable as a /readyz check.
func (g *Gate) Ready(context.Context) error {
	now := g.now()
	if s := g.current(now); s != nil {
		if now.Sub(s.readAt) > g.maxAge {
			return fmt.Errorf("agreement states unreadable (database unreachable): deliveries go on under the states read at %s, for at most %v (outage grace)",
				s.readAt.UTC().Format(time.RFC3339), g.outageGrace)
		}
		return nil
	}
	reason := "not read yet"
	if s := g.snap.Load(); s != nil {
		reason = "last read " + s.readAt.UTC().Format(time.RFC3339)
	}
	if p := g.lastErr.Load(); p != nil {
		reason += ": " + (*p).Error()
	}
	return fmt.Errorf("agreement states older than %v (%s): deliveries paused (fail closed)", g.maxAge, reason)
}

// WaitOpen waits until the gate is open at the worker's clock and returns
// the snapshot to decide a batch on, or ctx's error.
func (g *Gate) WaitOpen(ctx context.Context, now func() time.Time) (*gateSnapshot, error) {
	for attempt := 1; ; attempt++ {
		if s := g.current(now()); s != nil {
			return s, nil
		}
		if !sleepCtx(ctx, min(backoff(attempt), g.poll)) {
			return nil, ctx.Err()
		}
	}
}

// skip returns why the agreement of o may not deliver at now under this
// snapshot, "" when it may. o.ContentHash is the compiled terms' hash.
func (s *gateSnapshot) skip(o *policy.Outcome, now time.Time) string {
	st, ok := s.states[o.AgreementID]
	switch {
	case !ok:
		return policy.SkipNotRecorded
	case st.Delivers(o.ContentHash) && (st.ValidUntil.IsZero() || now.Before(st.ValidUntil)):
		return ""
	}
	switch st.Status {
	case agreements.StatusRevoked:
		return policy.SkipRevoked
	case agreements.StatusSuspended:
		return policy.SkipSuspended
	case agreements.StatusExpired:
		return policy.SkipExpired
	case agreements.StatusActive:
		if st.ContentHash != o.ContentHash {
			return policy.SkipNotApproved
		}
		return policy.SkipExpired // past valid_until; the expiry timer records the transition
	}
	return policy.SkipNotActive
}

// apply withdraws the deliveries of d that the snapshot refuses at now,
// turning them into skips with the gate's reason.
func (s *gateSnapshot) apply(d *policy.Decision, now time.Time) {
	for i := range d.Outcomes {
		o := &d.Outcomes[i]
		if !o.Delivered {
			continue
		}
		if why := s.skip(o, now); why != "" {
			o.Delivered, o.Skip = false, why // Value keeps its buffer for reuse
		}
	}
}
