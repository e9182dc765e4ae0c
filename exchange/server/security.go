// Who may call the server: the authenticator in front of every route but
// the public ones, the /metrics token, and TLS.

package server

import (
	"crypto/subtle"
	"net/http"
	"path"
	"strings"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// publicPaths need no principal: liveness and readiness are probed by
// orchestrators that hold no credentials, and tell nothing of the data.
var publicPaths = []string{"/healthz", "/readyz"}

// SetAuthenticator makes every request but those of public paths (/healthz,
// /readyz, Public) carry a principal authenticated by a, in its context
// (auth.FromContext); others are answered 401 or 403. Without an
// authenticator the server serves everyone (serve --insecure): call it
// before Serve.
func (s *Server) SetAuthenticator(a *auth.Authenticator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authn = a
}

// Public serves path (exactly) without a principal, e.g. exchange dev's
// /.well-known/jwks.json: what verifies credentials cannot require them.
func (s *Server) Public(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.public = append(s.public, path)
}

// ConfluentErrors answers refused requests under prefix (e.g. "/registry")
// in Confluent's error shape, {"error_code":401,"message":…}, which
// registry clients parse.
func (s *Server) ConfluentErrors(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confluent = append(s.confluent, prefix)
}

// PublicPrefix serves every path under prefix (e.g. "/console/") without
// a principal: the handler there authenticates by itself (the console's
// session cookie, which the API's authenticator does not read).
func (s *Server) PublicPrefix(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publicPrefixes = append(s.publicPrefixes, prefix)
}

func (s *Server) isPublic(r *http.Request) bool {
	p := r.URL.Path
	if p == "/metrics" && s.metricsToken != "" {
		return true // checks its own token (metricsHandler)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, pub := range publicPaths {
		if p == pub {
			return true
		}
	}
	for _, pub := range s.public {
		if p == pub {
			return true
		}
	}
	for _, pre := range s.publicPrefixes {
		if strings.HasPrefix(path.Clean(p)+"/", pre) {
			return true
		}
	}
	return false
}

func (s *Server) errorFormat(r *http.Request) auth.ErrorFormat {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, prefix := range s.confluent {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			return auth.FormatConfluent
		}
	}
	return auth.FormatAPI
}

// handler is the mux behind the authenticator, when there is one.
func (s *Server) handler() http.Handler {
	s.mu.RLock()
	a := s.authn
	s.mu.RUnlock()
	if a == nil {
		return s.mux
	}
	return a.Middleware(s.mux, s.isPublic, s.errorFormat)
}

// Option configures a Server.
type Option func(*Server)

// MetricsToken makes /metrics answer only requests with
// Authorization: Bearer <token> (http.metrics_token_file): Prometheus
// scrapes with a static token, not an OIDC one.
func MetricsToken(token string) Option { return func(s *Server) { s.metricsToken = token } }

// MetricsElsewhere leaves /metrics off this server's routes: MetricsHandler
// is served on its own listener (http.metrics_addr), reachable only where
// that address is.
func MetricsElsewhere() Option { return func(s *Server) { s.metricsElsewhere = true } }

// MetricsHandler serves the metrics, behind the metrics token when one is
// set; nil without a gatherer.
func (s *Server) MetricsHandler() http.Handler {
	if s.metrics == nil {
		return nil
	}
	if s.metricsToken == "" {
		return s.metrics
	}
	want := []byte("Bearer " + s.metricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			(&auth.Error{Status: http.StatusUnauthorized, Missing: "metrics token", Scheme: "Bearer",
				Message: "/metrics needs Authorization: Bearer <the token of http.metrics_token_file>"}).Write(w, []string{"Bearer"}, auth.FormatAPI)
			return
		}
		s.metrics.ServeHTTP(w, r)
	})
}
