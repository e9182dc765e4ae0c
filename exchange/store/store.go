package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/schemas"
)

// ErrNotFound is returned (wrapped) when a document or version does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when a lifecycle transition's From does
// not match the agreement's current status: another steward moved it first.
var ErrConflict = errors.New("concurrent modification")

// Backend is one database holding the registry, contracts and agreements,
// and the ledger. Safe for concurrent use.
type Backend interface {
	ledger.Appender
	ledger.Reader
	ledger.Source
	ledger.PositionReader
	// The ledger as the audit indexer writes it, and the entries it refused.
	ledger.Index
	ledger.FlagReader
	AgreementStore
	LifecycleStore
	// Timeliness: last accepted records, SLA events and aggregates, notices.
	sla.Store
	// Per-reason daily counts (console quality and quarantine pages).
	sla.ReasonStore
	// Per-reason daily skip counts (console overview and agreement chart).
	sla.SkipStore
	// Verifications keeps each recorded verification of the chains.
	Verifications
	// AccessLog keeps the audit API's data-subject queries.
	AccessLog
	// IngestKeys keeps HTTP ingest's Idempotency-Key entries.
	IngestKeys
	// AccessRequests keeps the catalog's access requests.
	AccessRequests
	// Schemas returns the schema registry's store over this database.
	Schemas() schemas.Store
	// Checkpoints calls fn with every checkpoint, chain by chain in Seq order.
	Checkpoints(ctx context.Context, fn func(*ledger.Checkpoint) error) error
	// LatestCheckpoint returns a chain's newest checkpoint (an indexed
	// read, for the console); ok is false when the chain has none.
	LatestCheckpoint(ctx context.Context, c ledger.Chain) (cp ledger.Checkpoint, ok bool, err error)
	// EntryChains lists the chains that have entries, from the chains
	// table alone (ledger.Source's Chains also reads the checkpoints).
	EntryChains(ctx context.Context) ([]ledger.Chain, error)
	// Migrate applies pending migrations and returns their names; it is a
	// no-op (nil, nil) when the schema is current.
	Migrate(ctx context.Context) ([]string, error)
	// Ping checks the database answers; it wraps ledger.ErrUnavailable when not.
	Ping(ctx context.Context) error
	Close() error
}

// Document is one version of a contract, agreement or agency document as
// loaded from YAML. Versions are numbered 1, 2, … per (Kind, ID).
type Document struct {
	Kind    string // agreements.KindDataContract, KindAgreement or KindAgency
	ID      string // dataset id, agreement id or agency id
	Version int    // set by the store
	// Status is the agreement's lifecycle status in this version's text;
	// empty for other kinds.
	Status agreements.Status
	YAML   []byte
	Hash   []byte // SHA-256 of YAML, set by the store
	Author string // who submitted this version
	// Created is when the version was stored, set by the store.
	Created time.Time
}

// Transition is one lifecycle change of an agreement: who, when, why.
type Transition struct {
	AgreementID string
	// Seq numbers an agreement's transitions 1, 2, …; set by the store.
	Seq int
	// Version is the agreement document version the transition applies to.
	Version int
	From    agreements.Status
	To      agreements.Status
	By      string
	At      time.Time
	Reason  string
	// ContentHash is agreements.(*Agreement).ContentHash of the terms the
	// transition applies to; ValidUntil is those terms' end (zero:
	// open-ended). Empty: the state's terms are carried over.
	ContentHash string
	ValidUntil  time.Time
}

// CheckEdge refuses a transition the lifecycle state machine has no edge
// for (revoked → active, draft → active, …), wrapping
// agreements.ErrTransition: a store records only moves a steward could make.
func (t Transition) CheckEdge() error {
	if !agreements.CanTransition(t.From, t.To) {
		return fmt.Errorf("agreement %s: no lifecycle transition from %s to %s: %w", t.AgreementID, t.From, t.To, agreements.ErrTransition)
	}
	return nil
}

// AgreementStore keeps every version of every contract, agreement and agency
// document and every lifecycle transition. It is defined here until the
// agreements package grows a persistence interface of its own.
type AgreementStore interface {
	// PutDocument stores d as the next version of (d.Kind, d.ID) and returns
	// it with Version, Hash and Created set. When d.YAML equals the latest
	// version's text nothing is stored and the latest version is returned.
	PutDocument(ctx context.Context, d Document) (Document, error)
	// Document returns one version; version 0 means the latest. ErrNotFound
	// when there is none.
	Document(ctx context.Context, kind, id string, version int) (Document, error)
	// DocumentVersions returns every version of (kind, id), oldest first.
	DocumentVersions(ctx context.Context, kind, id string) ([]Document, error)
	// Documents returns the latest version of every document of kind (every
	// kind when kind is ""), sorted by kind then id.
	Documents(ctx context.Context, kind string) ([]Document, error)
	// AddTransition records t alone, as Act with ApplyOne(t) does: the
	// agreement must exist, and t.From must be its current status (the To
	// of its latest transition; "" before any), else ErrConflict. t.At
	// defaults to now, t.Version to the latest version, t.ContentHash and
	// t.ValidUntil to the current state's. The runtime's expiry uses it.
	AddTransition(ctx context.Context, t Transition) (Transition, error)
	// Transitions returns an agreement's transitions, oldest first.
	Transitions(ctx context.Context, agreementID string) ([]Transition, error)
}

// Config is what Open passes to a backend. Build it with Options.
type Config struct {
	// SigningKey signs ledger checkpoints; nil: no checkpoints are written.
	SigningKey ed25519.PrivateKey
	// CheckpointEvery: a chain gets a signed checkpoint at the end of an
	// append once this many entries were added since its last one.
	// Default 1: every append batch ends with a checkpoint of its chains.
	CheckpointEvery int64
	// SkipMigrate: Open does not apply migrations (exchange migrate does).
	SkipMigrate bool
	Logger      *slog.Logger
	// Now is the clock for Created, transitions and checkpoints (default time.Now).
	Now func() time.Time
	// MaxConns bounds the PostgreSQL pool (default: pgxpool's).
	MaxConns int32
}

// Option configures Open.
type Option func(*Config)

// WithSigningKey signs checkpoints with key. Default: no checkpoints.
func WithSigningKey(key ed25519.PrivateKey) Option { return func(c *Config) { c.SigningKey = key } }

// WithCheckpointEvery sets the checkpoint interval in entries per chain
// (default 1: every append batch).
func WithCheckpointEvery(n int64) Option { return func(c *Config) { c.CheckpointEvery = n } }

// WithoutMigrate makes Open skip migrations. Default: Open migrates.
func WithoutMigrate() Option { return func(c *Config) { c.SkipMigrate = true } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(c *Config) { c.Now = now } }

// WithMaxConns bounds the connection pool of network databases.
func WithMaxConns(n int32) Option { return func(c *Config) { c.MaxConns = n } }

// NewConfig applies opts over the defaults.
func NewConfig(opts ...Option) Config {
	c := Config{CheckpointEvery: 1, Now: time.Now, Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	if c.CheckpointEvery < 1 {
		c.CheckpointEvery = 1
	}
	return c
}

// OpenFunc opens a backend for a URL of its scheme.
type OpenFunc func(ctx context.Context, rawURL string, cfg Config) (Backend, error)

var (
	mu       sync.RWMutex
	backends = map[string]OpenFunc{}
)

// Register makes a backend available to Open under a URL scheme. Backends
// register from init: import exchange/store/postgres and exchange/store/sqlite
// (blank imports are enough) to enable them.
func Register(scheme string, open OpenFunc) {
	mu.Lock()
	defer mu.Unlock()
	backends[scheme] = open
}

// Open opens the store at rawURL — `postgres://…` (or `postgresql://…`) or
// `sqlite:///path/to/file.db` — and, unless WithoutMigrate, applies pending
// migrations.
func Open(ctx context.Context, rawURL string, opts ...Option) (Backend, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", errors.New("cannot parse (want postgres://… or sqlite:///path/file.db)"))
	}
	scheme := strings.ToLower(u.Scheme)
	mu.RLock()
	open, ok := backends[scheme]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("store URL scheme %q: no such backend (have %s)", scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, rawURL, NewConfig(opts...))
}

// Schemes lists the registered URL schemes.
func Schemes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(backends))
	for s := range backends {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Redact returns rawURL with any password replaced, for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
