package stewardship

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Errors the HTTP API maps to statuses; each is wrapped with the specifics.
var (
	// ErrForbidden: the actor may not do this (403).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: the request is malformed or the terms do not validate (400).
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: no agreement with that id (404). It wraps store.ErrNotFound.
	ErrNotFound = store.ErrNotFound
)

// IsConflict reports an error the HTTP API answers with 409: a move the
// lifecycle has no edge for (agreements.ErrTransition), or an action on a
// state another action changed first (store.ErrConflict).
func IsConflict(err error) bool {
	return errors.Is(err, agreements.ErrTransition) || errors.Is(err, store.ErrConflict)
}

// Actor is who acts: a steward of one agency, or a reader of everything.
type Actor struct {
	// Name is the steward's name (the token's sub) or the principal's.
	Name string
	// Agency is the agency the actor acts for ("" for auditors, operators).
	Agency string
	// Steward: the actor holds role steward for Agency. Only stewards act,
	// and only if Name is listed under Agency's stewards: in agencies.yaml.
	Steward bool
	// ReadsAll: the actor sees every agreement (auditor, operator).
	ReadsAll bool
}

// by is how a transition or document records the actor.
func (a Actor) by() string {
	if a.Agency == "" {
		return a.Name
	}
	return a.Name + "@" + a.Agency
}

// Store is what the service needs of the database.
type Store interface {
	store.AgreementStore
	store.LifecycleStore
}

// Notifier delivers notices to agencies (*timeliness.Notifier).
type Notifier interface {
	Send(ctx context.Context, ns []sla.Notice)
}

// Service runs steward actions over the store. Safe for concurrent use.
type Service struct {
	db     Store
	notify Notifier // nil: no notices
	log    *slog.Logger
	now    func() time.Time
	policy atomic.Pointer[agreements.Set]
}

// Option configures New.
type Option func(*Service)

// WithNotifier sends a notice of every transition to both parties.
// Default: none.
func WithNotifier(n Notifier) Option { return func(s *Service) { s.notify = n } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithClock replaces time.Now for the validity checks (tests). The store's
// own clock stamps the records.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// New returns a service over db. Until SetPolicy is called it knows no
// agencies, so no actor is a steward and every action is refused.
func New(db Store, opts ...Option) *Service {
	s := &Service{db: db, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SetPolicy gives the service the agencies (stewards), contracts and
// calendars of the plan in force; call it at every successful build.
func (s *Service) SetPolicy(set *agreements.Set) { s.policy.Store(set) }

func (s *Service) policySet() *agreements.Set {
	if p := s.policy.Load(); p != nil {
		return p
	}
	return &agreements.Set{}
}

// Approval is one steward's approval in a View.
type Approval struct {
	Agency      string    `json:"agency"`
	Steward     string    `json:"steward"`
	At          time.Time `json:"at"`
	ContentHash string    `json:"content_hash"`
}

// Change is one transition in a View's history.
type Change struct {
	From        string    `json:"from"`
	To          string    `json:"to"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
	Reason      string    `json:"reason"`
	ContentHash string    `json:"content_hash"`
}

// View is an agreement as the API shows it: its terms (of the version its
// state applies to), its state, the approvals of its current round and
// its whole history.
type View struct {
	ID          string     `json:"id"`
	Provider    string     `json:"provider"`
	Consumer    string     `json:"consumer"`
	Status      string     `json:"status"`
	ContentHash string     `json:"content_hash"`
	Version     int        `json:"version"`
	Purpose     string     `json:"purpose"`
	LegalBasis  string     `json:"legal_basis"`
	ValidFrom   *time.Time `json:"valid_from"`
	ValidUntil  *time.Time `json:"valid_until"`
	Approvals   []Approval `json:"approvals"`
	History     []Change   `json:"history"`
}

// List returns the agreements actor may see, by id: every one for a
// reader of everything, else those whose provider or consumer is the
// actor's agency.
func (s *Service) List(ctx context.Context, actor Actor) ([]View, error) {
	docs, err := s.db.Documents(ctx, agreements.KindAgreement)
	if err != nil {
		return nil, fmt.Errorf("listing agreements: %w", err)
	}
	out := []View{}
	for _, d := range docs {
		v, err := s.view(ctx, d.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if actor.ReadsAll || actor.party(v.Provider, v.Consumer) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get returns one agreement; ErrForbidden when actor may not see it.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (View, error) {
	v, err := s.view(ctx, id)
	if err != nil {
		return View{}, err
	}
	if !actor.ReadsAll && !actor.party(v.Provider, v.Consumer) {
		return View{}, fmt.Errorf("%w: agreement %s is between %s and %s; %s may read its own agency's agreements only", ErrForbidden, id, agencyOf(v.Provider), v.Consumer, actor.by())
	}
	return v, nil
}

// party reports whether the actor's agency is the provider's or the consumer.
func (a Actor) party(provider, consumer string) bool {
	return a.Agency != "" && (a.Agency == agencyOf(provider) || a.Agency == consumer)
}

func agencyOf(dataset string) string {
	a := agreements.Agreement{Provider: dataset}
	return a.ProviderAgency()
}

// view reads an agreement's lifecycle and the terms its state applies to.
func (s *Service) view(ctx context.Context, id string) (View, error) {
	l, err := s.db.Lifecycle(ctx, id)
	if err != nil {
		return View{}, fmt.Errorf("agreement %s: %w", id, err)
	}
	st := l.State()
	version := st.Version
	if version == 0 {
		version = l.LatestVersion
	}
	a, err := s.terms(ctx, id, version)
	if err != nil {
		return View{}, err
	}
	return viewOf(a, l), nil
}

// terms parses version of agreement id's document.
func (s *Service) terms(ctx context.Context, id string, version int) (*agreements.Agreement, error) {
	d, err := s.db.Document(ctx, agreements.KindAgreement, id, version)
	if err != nil {
		return nil, fmt.Errorf("agreement %s version %d: %w", id, version, err)
	}
	set, err := agreements.Load(fmt.Sprintf("%s@v%d", id, d.Version), d.YAML)
	if set == nil {
		return nil, fmt.Errorf("agreement %s version %d: %w", id, d.Version, err)
	}
	a, ok := set.Agreement(id)
	if !ok {
		return nil, fmt.Errorf("agreement %s version %d holds no agreement of that id", id, d.Version)
	}
	return a, nil
}

func viewOf(a *agreements.Agreement, l store.Lifecycle) View {
	st := l.State()
	v := View{
		ID: a.ID, Provider: a.Provider, Consumer: a.Consumer, Status: string(st.Status), ContentHash: st.ContentHash,
		Version: st.Version, Purpose: a.Purpose, LegalBasis: a.LegalBasis,
		ValidFrom: timePtr(a.ValidFrom), ValidUntil: timePtr(a.ValidUntil),
		Approvals: []Approval{}, History: []Change{},
	}
	for _, ap := range roundApprovals(l) {
		v.Approvals = append(v.Approvals, Approval{Agency: ap.Agency, Steward: ap.Steward, At: ap.At, ContentHash: ap.ContentHash})
	}
	for _, t := range l.Transitions {
		v.History = append(v.History, Change{From: string(t.From), To: string(t.To), By: t.By, At: t.At, Reason: t.Reason, ContentHash: t.ContentHash})
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// round is the Seq of the transition that opened the agreement's current
// approval round: the latest move to proposed, or the first transition (a
// seed) when there was none; 0 before any transition.
func round(l store.Lifecycle) int {
	for i := len(l.Transitions) - 1; i >= 0; i-- {
		if l.Transitions[i].To == agreements.StatusProposed {
			return l.Transitions[i].Seq
		}
	}
	if len(l.Transitions) > 0 {
		return l.Transitions[0].Seq
	}
	return 0
}

// roundApprovals are the approvals of the current round.
func roundApprovals(l store.Lifecycle) []store.Approval {
	r := round(l)
	var out []store.Approval
	for _, a := range l.Approvals {
		if a.Round == r && r > 0 {
			out = append(out, a)
		}
	}
	return out
}

// Terms returns, for every agreement with a lifecycle state, the terms
// that state applies to (the recorded document version), by id: what a
// plan builder compiles for agreements proposed through the API (an
// access request accepted, POST /api/v1/agreements) that no file holds.
// Status and approvals (of the current round) are the store's, never a
// document's text; History is left empty.
func (s *Service) Terms(ctx context.Context) (map[string]*agreements.Agreement, error) {
	states, err := s.db.AgreementStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("agreement states: %w", err)
	}
	out := make(map[string]*agreements.Agreement, len(states))
	for _, st := range states {
		l, err := s.db.Lifecycle(ctx, st.ID)
		if err != nil {
			return nil, fmt.Errorf("agreement %s: %w", st.ID, err)
		}
		a, err := s.terms(ctx, st.ID, l.State().Version)
		if err != nil {
			return nil, err
		}
		a.Status, a.Approvals, a.History = l.State().Status, nil, nil
		for _, ap := range roundApprovals(l) {
			a.Approvals = append(a.Approvals, agreements.Approval{Agency: ap.Agency, Steward: ap.Steward, At: ap.At})
		}
		out[st.ID] = a
	}
	return out, nil
}

// TermsOf returns the terms of version of agreement id (0: the latest
// version), whatever its state: the console shows the terms in force
// when a record was delivered.
func (s *Service) TermsOf(ctx context.Context, id string, version int) (*agreements.Agreement, error) {
	return s.terms(ctx, id, version)
}

// Agencies are the agencies of the policy in force (SetPolicy).
func (s *Service) Agencies() []agreements.Agency { return s.policySet().Agencies }
