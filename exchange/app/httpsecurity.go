package app

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"

	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// HTTPSecurity is who may call the HTTP surface, and how (IDENTITY.md
// "HTTP"): every route but /healthz, /readyz and Public needs a principal.
type HTTPSecurity struct {
	// Auth authenticates requests; required unless Insecure.
	Auth *auth.Authenticator
	// Insecure serves every route without authentication (serve
	// --insecure, experiments only); /readyz says so.
	Insecure bool
	// TLS, when set, is what the server serves (server.TLSConfig);
	// without it, plain HTTP.
	TLS *tls.Config
	// MetricsToken, when set, is the bearer token /metrics requires in
	// place of a principal (http.metrics_token_file).
	MetricsToken string
	// MetricsListener, when set, serves /metrics alone, and the main
	// listener has none (http.metrics_addr).
	MetricsListener net.Listener
	// Public routes are served without a principal (exchange dev's JWKS).
	Public []PublicRoute
}

// PublicRoute is a GET route that needs no principal.
type PublicRoute struct {
	Path    string
	Handler http.Handler
}

// errNoHTTPAuth is why New refuses an HTTP surface with no authentication.
var errNoHTTPAuth = errors.New("http: no authentication configured (auth.oidc, auth.basic.users_file or http.tls.client_ca): " +
	"anyone could then register schemas and read the audit ledger; configure one, or pass --insecure to run anyway (experiments only)")

// HTTPInsecureWarning is shown on /readyz (and logged by serve) when the
// HTTP surface runs without authentication.
const HTTPInsecureWarning = "INSECURE: started with --insecure and no HTTP authentication; anyone reaching the HTTP port can register schemas and read the audit ledger"

func (s HTTPSecurity) check() error {
	if s.Auth == nil && !s.Insecure {
		return errNoHTTPAuth
	}
	return nil
}

// serverOptions are the server's options for the metrics endpoint.
func (s HTTPSecurity) serverOptions() []server.Option {
	var opts []server.Option
	if s.MetricsToken != "" {
		opts = append(opts, server.MetricsToken(s.MetricsToken))
	}
	if s.MetricsListener != nil {
		opts = append(opts, server.MetricsElsewhere())
	}
	return opts
}

// secure puts the authenticator, TLS and public routes on the server.
func (s HTTPSecurity) secure(srv *server.Server) {
	if s.Auth != nil {
		srv.SetAuthenticator(s.Auth)
	} else if s.Insecure {
		srv.SetDetail("http_security", HTTPInsecureWarning)
	}
	if s.TLS != nil {
		srv.SetTLS(s.TLS)
	}
	for _, p := range s.Public {
		srv.Handle("GET "+p.Path, p.Handler)
		srv.Public(p.Path)
	}
}
