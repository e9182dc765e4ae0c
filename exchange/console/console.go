package console

import (
	"context"
	"crypto/ed25519"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/schemas"
)

// Prefix is where the console is served.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console response: nothing
// but the console's own stylesheet and inline data: images; no script at
// all, no framing, forms post only to the console.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the console reads and how it signs people in.
type Config struct {
	// Store: SLA aggregates and events, checkpoints, chains. Required.
	Store store.Backend
	// Audit is the audit API; the console asks it in-process, so its
	// validation, scope rules and access log are the API's own. Required.
	Audit *auditapi.Handler
	// Scope is the audit API's scope of a request (the app's), which the
	// overview applies to aggregates. Required.
	Scope auditapi.ScopeFunc
	// Stewardship lists agreements (overview, agreements pages) and runs
	// the steward actions of the agreement page. Required.
	Stewardship *stewardship.Service
	// Catalog is the catalog API (datasets, access requests); the catalog
	// and access request pages ask it in-process, so its rules are the
	// API's own. Nil: those pages answer 404.
	Catalog *catalogapi.Handler
	// Agencies are the agencies of the plan in force. Required.
	Agencies func() []agreements.Agency
	// Authenticator checks the credentials a sign-in presents: the dev
	// tokens, with the very authenticator of the HTTP API, so roles come
	// from the same place. Nil: nobody can sign in.
	Authenticator *auth.Authenticator
	// SessionKey signs session cookies and CSRF tokens (≥ 32 bytes).
	SessionKey []byte
	// SecureCookies marks cookies Secure (and __Host-). Only plain-HTTP
	// dev on 127.0.0.1 turns it off: a browser drops Secure cookies there.
	SecureCookies bool
	// OIDC, when set, signs people in at the configured issuer
	// (authorization code with PKCE); New discovers its endpoints.
	OIDC *OIDCLogin
	// DevTokens lists the identities the dev sign-in page offers (exchange
	// dev's token files, devissuer.ConsoleTokens). Nil: no dev sign-in.
	DevTokens func() ([]DevToken, error)
	// SubjectHash is the ledger's keyed hash of a data subject identifier.
	SubjectHash func(identifier string) []byte
	// CheckpointKey verifies checkpoints (its fingerprint is shown); nil
	// when the exchange signs none.
	CheckpointKey ed25519.PublicKey
	// Quarantine reads quarantined records for the quarantine page (the
	// detail of an entry; values for the provider's stewards). Nil: the
	// page lists entries without them.
	Quarantine QuarantineReader
	// Registry decodes quarantined values to JSON; nil: shown raw.
	Registry *schemas.Registry
	Logger   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Console serves the governance console under Prefix.
type Console struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	sess     *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
	oidc     *oidcClient                  // nil: no OIDC sign-in
	catalog  http.Handler                 // the catalog API's routes; nil: none
	verifyMu sync.Mutex                   // held while a "verify now" runs
	verified atomic.Pointer[verification] // last "verify now" in this process; nil: none yet
}

// New returns the console; it checks the configuration, parses the
// templates and discovers the OIDC issuer's endpoints (bounded by ctx).
func New(ctx context.Context, cfg Config) (*Console, error) {
	if cfg.Store == nil || cfg.Audit == nil || cfg.Scope == nil || cfg.Stewardship == nil || cfg.Agencies == nil || cfg.SubjectHash == nil {
		return nil, errors.New("console: store, audit API, scope, stewardship, agencies and subject hash are required")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, fmt.Errorf("console: session key of %d bytes, want at least 32", len(cfg.SessionKey))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, log: cfg.Logger, now: cfg.Now,
		sess: &sessions{key: cfg.SessionKey, secure: cfg.SecureCookies, now: cfg.Now, gone: map[string]int64{}}}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if cfg.OIDC != nil {
		if cfg.Authenticator == nil {
			return nil, errors.New("console: OIDC sign-in needs the HTTP API's authenticator")
		}
		if c.oidc, err = newOIDCClient(ctx, cfg.OIDC); err != nil {
			return nil, err
		}
	}
	if cfg.Catalog != nil {
		m := http.NewServeMux()
		cfg.Catalog.Mount(m)
		c.catalog = m
	}
	c.routes()
	return c, nil
}

// routes registers every page. A page handler gets the signed-in
// principal; POSTs reach it only with their session's CSRF token.
func (c *Console) routes() {
	c.mux = http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET "+Prefix+"signin", c.signinPage)
	c.mux.HandleFunc("POST "+Prefix+"signin/dev", c.signinDev)
	c.mux.HandleFunc("GET "+Prefix+"signin/oidc", c.signinOIDC)
	c.mux.HandleFunc("GET "+Prefix+"oidc/callback", c.oidcCallback)
	c.mux.HandleFunc("POST "+Prefix+"logout", c.logout)
	c.mux.Handle("GET "+Prefix+"{$}", c.signedIn(c.overview))
	c.mux.Handle("GET "+Prefix+"audit", c.signedIn(c.audit))
	c.mux.Handle("GET "+Prefix+"audit.csv", c.signedIn(c.auditCSV))
	c.mux.Handle("GET "+Prefix+"lineage", c.signedIn(c.lineage))
	c.mux.Handle("GET "+Prefix+"subject", c.signedIn(c.subjectForm))
	c.mux.Handle("POST "+Prefix+"subject", c.signedIn(c.subjectReport))
	c.mux.Handle("GET "+Prefix+"integrity", c.signedIn(c.integrity))
	c.mux.Handle("POST "+Prefix+"integrity/verify", c.signedIn(c.verifyNow))
	c.agreementRoutes()
	c.mux.Handle("GET "+Prefix+"quality", c.signedIn(c.quality))
	c.mux.Handle("GET "+Prefix+"quarantine", c.signedIn(c.quarantine))
	c.mux.Handle("GET "+Prefix+"quarantine/entry", c.signedIn(c.quarantineEntry))
	c.mux.Handle("POST "+Prefix+"quarantine/value", c.signedIn(c.quarantineValue))
	c.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "No such page.")
	})
}

// ServeHTTP sets the security headers of every response, refuses a POST
// without its session's CSRF token (403), and routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if !c.sess.checkCSRF(r) {
			c.fail(w, r, http.StatusForbidden, "This form is missing its CSRF token or the token belongs to another session. Reload the page and try again.")
			return
		}
	}
	c.mux.ServeHTTP(w, r)
}

// pageFunc serves a page to a signed-in principal.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view)

// signedIn sends a request without a session to the sign-in page, and
// gives the rest the principal, in the request's context too (what the
// audit API's scope reads).
func (c *Console) signedIn(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := c.sess.read(r)
		p := s.principal()
		if p == nil {
			http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
			return
		}
		r = r.WithContext(auth.NewContext(r.Context(), p))
		fn(w, r, &view{Principal: p, CSRF: c.sess.csrf(s)})
	})
}

// requireRole answers 403 unless v's principal holds one of roles.
func (c *Console) requireRole(w http.ResponseWriter, r *http.Request, v *view, roles ...string) bool {
	for _, role := range roles {
		if v.Principal.HasRole(role) {
			return true
		}
	}
	c.failView(w, r, v, http.StatusForbidden, fmt.Sprintf("This page needs role %s; %s holds %v.", roles[0], v.Principal, v.Principal.Roles))
	return false
}

// errorOf is the status and message of an in-process API answer or a
// store error, for the page.
func (c *Console) errorOf(r *http.Request, err error) (int, string) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Message
	case errors.Is(err, ledger.ErrUnavailable):
		return http.StatusServiceUnavailable, "The store is unavailable; try again shortly."
	}
	c.log.Error("console page failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "Internal error (logged)."
}
