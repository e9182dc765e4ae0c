package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Authenticator turns a request's credentials into a Principal. Build it
// with New; the zero value accepts nothing.
type Authenticator struct {
	oidc  *OIDC
	basic *BasicUsers
	certs *CertMapping
	log   *slog.Logger
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithOIDC accepts Authorization: Bearer tokens verified by v.
func WithOIDC(v *OIDC) Option { return func(a *Authenticator) { a.oidc = v } }

// WithBasicUsers accepts Authorization: Basic for users (agency systems).
func WithBasicUsers(users *BasicUsers) Option { return func(a *Authenticator) { a.basic = users } }

// WithClientCerts accepts verified TLS client certificates, mapped by m.
// The server's TLS configuration must verify them (http.tls.client_ca).
func WithClientCerts(m CertMapping) Option { return func(a *Authenticator) { a.certs = &m } }

// WithLogger logs refused credentials (the reason, never the secret) at
// debug level; default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(a *Authenticator) {
		if l != nil {
			a.log = l
		}
	}
}

// New returns an Authenticator accepting the configured methods; at least
// one is required.
func New(opts ...Option) (*Authenticator, error) {
	a := &Authenticator{log: slog.Default()}
	for _, o := range opts {
		o(a)
	}
	if a.oidc == nil && a.basic == nil && a.certs == nil {
		return nil, errors.New("auth: no authentication method configured (OIDC, Basic users or client certificates)")
	}
	return a, nil
}

// Schemes are the Authorization schemes accepted, for WWW-Authenticate.
func (a *Authenticator) Schemes() []string {
	var s []string
	if a.oidc != nil {
		s = append(s, "Bearer")
	}
	if a.basic != nil {
		s = append(s, "Basic")
	}
	return s
}

// Authenticate returns the request's principal. Credentials in an
// Authorization header are used when present (and a bad one is refused,
// never passed over for another method); otherwise a verified TLS client
// certificate. Errors are *Error.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		switch {
		case strings.EqualFold(scheme, "Bearer") && a.oidc != nil:
			return a.oidc.Verify(r.Context(), cred)
		case strings.EqualFold(scheme, "Basic") && a.basic != nil:
			return a.basicPrincipal(r)
		}
		return nil, unauthorized("", "credentials", "Authorization scheme "+schemeName(scheme)+" is not accepted here; use "+a.accepted(), nil)
	}
	if a.certs != nil && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return a.certs.Principal(r.TLS.VerifiedChains[0][0])
	}
	return nil, unauthorized("", "credentials", "no credentials: send "+a.accepted(), nil)
}

func (a *Authenticator) basicPrincipal(r *http.Request) (*Principal, error) {
	user, password, ok := r.BasicAuth()
	if !ok || user == "" {
		return nil, unauthorized("Basic", "valid credentials", "Basic credentials are not base64 of user:password", nil)
	}
	if !a.basic.Verify(user, password) {
		// The user may be named: it is not secret, and it tells an
		// operator which line of basic.auth.user.info is wrong.
		return nil, unauthorized("Basic", "valid credentials", "Basic credentials refused for user "+quoteScheme(user), nil)
	}
	return AgencyPrincipal(MethodBasic, user, user), nil
}

// accepted lists the credentials this authenticator takes, for messages.
func (a *Authenticator) accepted() string {
	var s []string
	if a.oidc != nil {
		s = append(s, "Authorization: Bearer <token>")
	}
	if a.basic != nil {
		s = append(s, "Authorization: Basic (basic.auth.user.info)")
	}
	if a.certs != nil {
		s = append(s, "a TLS client certificate")
	}
	return strings.Join(s, ", or ")
}

// schemeName names a client's Authorization scheme in a message: quoted
// when it looks like one (a short word), else not at all, since a header
// without a space between scheme and credential is all credential.
func schemeName(s string) string {
	if len(s) > 16 || strings.IndexFunc(s, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '-') }) >= 0 {
		return "(not a scheme name)"
	}
	return `"` + s + `"`
}

// quoteScheme quotes a client-supplied word for a message, bounded and
// printable.
func quoteScheme(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + headerSafe(s) + `"`
}

// Middleware authenticates every request before next, except those public
// reports true for (then next runs without a principal). A refused request
// is answered here: 401 or 403 in the body format formatOf chooses (nil:
// FormatAPI).
func (a *Authenticator) Middleware(next http.Handler, public func(*http.Request) bool, formatOf func(*http.Request) ErrorFormat) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public != nil && public(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.Authenticate(r)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = unauthorized("", "valid credentials", "credentials refused", err)
			}
			a.log.Debug("request refused", "path", r.URL.Path, "status", e.Status, "reason", e.Message, "err", e.Cause)
			format := FormatAPI
			if formatOf != nil {
				format = formatOf(r)
			}
			e.Write(w, a.Schemes(), format)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
	})
}
