// Package server is the exchange's HTTP surface: the Confluent-compatible
// schema registry under /registry, the steward and governance API under
// /api/v1, Prometheus metrics at /metrics, and the health endpoints /healthz
// (the process is alive) and /readyz (every readiness check passes).
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// ErrAddrInUse is returned (wrapped) by Listen when the address is taken.
var ErrAddrInUse = errors.New("address already in use")

// Check is one readiness check; it returns nil when ready. It must honour ctx.
type Check func(ctx context.Context) error

// Server routes the exchange's HTTP endpoints.
type Server struct {
	mux      *http.ServeMux
	log      *slog.Logger
	mu       sync.RWMutex
	checks   map[string]Check
	details  map[string]string
	surfaces []Surface // the index at / (index.go)

	// security.go
	authn            *auth.Authenticator
	public           []string // paths served without a principal
	publicPrefixes   []string // path prefixes served without a principal
	confluent        []string // prefixes answering errors in Confluent's shape
	metrics          http.Handler
	metricsToken     string
	metricsElsewhere bool
	tls              *tls.Config
}

// New returns a server with /healthz, /readyz, when gatherer is not nil
// /metrics (see the options), and the index of its surfaces at / (see
// Describe).
func New(log *slog.Logger, gatherer prometheus.Gatherer, opts ...Option) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{mux: http.NewServeMux(), log: log, checks: map[string]Check{}, details: map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if gatherer != nil {
		s.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
		if !s.metricsElsewhere {
			s.mux.Handle("GET /metrics", s.MetricsHandler())
		}
	}
	s.handleIndex(gatherer != nil && !s.metricsElsewhere)
	return s
}

// Mount serves h under prefix (e.g. "/registry"), with the prefix stripped.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
}

// Handle registers h for a ServeMux pattern such as "GET /api/v1/audit".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck adds a named readiness check to /readyz.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = c
}

// SetDetail shows name: text under "details" in every /readyz answer
// without affecting readiness: a condition an operator must see, such as
// running without Kafka authentication (--insecure). Empty text removes it.
func (s *Server) SetDetail(name, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if text == "" {
		delete(s.details, name)
		return
	}
	s.details[name] = text
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.handler().ServeHTTP(w, r)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	s.mu.RLock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make(map[string]Check, len(s.checks))
	for n, c := range s.checks {
		checks[n] = c
	}
	var details map[string]string
	if len(s.details) > 0 {
		details = make(map[string]string, len(s.details))
		for n, d := range s.details {
			details[n] = d
		}
	}
	s.mu.RUnlock()
	sort.Strings(names)
	type result struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Error string `json:"error,omitempty"`
	}
	out := struct {
		Ready   bool              `json:"ready"`
		Checks  []result          `json:"checks"`
		Details map[string]string `json:"details,omitempty"`
	}{Ready: true, Details: details}
	for _, n := range names {
		res := result{Name: n, OK: true}
		if err := checks[n](ctx); err != nil {
			res.OK, res.Error, out.Ready = false, err.Error(), false
		}
		out.Checks = append(out.Checks, res)
	}
	w.Header().Set("Content-Type", "application/json")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// Listen binds addr; a taken address wraps ErrAddrInUse.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s: %w", addr, ErrAddrInUse)
		}
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves on ln (over TLS when SetTLS was given a configuration) until
// ctx is cancelled, then shuts down gracefully within shutdownTimeout. It
// returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	return serve(ctx, s, s.tls, ln, shutdownTimeout, s.log)
}

// ServeMetrics serves only MetricsHandler on ln (http.metrics_addr), as
// Serve does.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	mux := http.NewServeMux()
	if h := s.MetricsHandler(); h != nil {
		mux.Handle("GET /metrics", h)
	}
	return serve(ctx, mux, s.tls, ln, shutdownTimeout, s.log)
}

func serve(ctx context.Context, h http.Handler, tlsCfg *tls.Config, ln net.Listener, shutdownTimeout time.Duration, log *slog.Logger) error {
	hs := &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			// The certificate comes from tlsCfg.GetCertificate.
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
