package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/auth/authtest"
)

// tlsStack serves s over TLS with a server certificate of serverCA and
// client certificates verified against clientCA; it returns the base URL
// and the files.
func tlsStack(t *testing.T, s *Server, serverCA, clientCA *authtest.CA) (base string, files TLSFiles) {
	t.Helper()
	dir := t.TempDir()
	leaf := serverCA.Server(t)
	files = TLSFiles{CertFile: authtest.WriteFile(t, dir, "tls.crt", leaf.CertPEM), KeyFile: authtest.WriteFile(t, dir, "tls.key", leaf.KeyPEM),
		ClientCA: authtest.WriteFile(t, dir, "client-ca.pem", clientCA.PEM)}
	cfg, err := TLSConfig(files)
	if err != nil {
		t.Fatal(err)
	}
	s.SetTLS(cfg)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "https://" + ln.Addr().String(), files
}

// principalServer is a Server whose /api/v1/whoami answers the principal.
func principalServer(t *testing.T, a *auth.Authenticator, opts ...Option) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := New(nil, reg, opts...)
	s.SetAuthenticator(a)
	s.Handle("GET /api/v1/whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(p)
	}))
	s.Mount("/registry", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }))
	s.ConfluentErrors("/registry")
	return s
}

// TestMutualTLS: over TLS 1.2+, a client certificate of the configured CA
// authenticates its agency (CN, or a SAN through the mapping); one of
// another CA is refused at the handshake; without a certificate, 401.
func TestMutualTLS(t *testing.T) {
	serverCA, agencyCA, otherCA := authtest.NewCA(t, "server CA"), authtest.NewCA(t, "agencies CA"), authtest.NewCA(t, "rogue CA")
	a, err := auth.New(auth.WithClientCerts(auth.CertMapping{
		Names: map[string]string{"spiffe://gov.example/tax/gateway": "tax"}, AgenciesByCN: true}))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := tlsStack(t, principalServer(t, a), serverCA, agencyCA)

	whoami := func(c *http.Client) (auth.Principal, int, error) {
		resp, err := c.Get(base + "/api/v1/whoami")
		if err != nil {
			return auth.Principal{}, 0, err
		}
		defer resp.Body.Close()
		var p auth.Principal
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return p, resp.StatusCode, nil
	}
	leaf := agencyCA.Client(t, "health", nil, nil)
	p, code, err := whoami(authtest.Client(t, serverCA, &leaf))
	if err != nil || code != 200 || p.Kind != auth.KindAgency || p.Agency != "health" || p.Method != auth.MethodMTLS {
		t.Fatalf("health's certificate: %+v %d %v", p, code, err)
	}
	leaf = agencyCA.Client(t, "gateway-7", nil, []string{"spiffe://gov.example/tax/gateway"})
	if p, code, err = whoami(authtest.Client(t, serverCA, &leaf)); err != nil || code != 200 || p.Agency != "tax" || p.Subject != "spiffe://gov.example/tax/gateway" {
		t.Fatalf("a certificate mapped by its URI SAN: %+v %d %v", p, code, err)
	}
	leaf = otherCA.Client(t, "health", nil, nil)
	if _, _, err = whoami(authtest.Client(t, serverCA, &leaf)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a certificate of an unknown CA: %v, want the handshake refused", err)
	}
	if _, code, err = whoami(authtest.Client(t, serverCA, nil)); err != nil || code != 401 {
		t.Fatalf("no certificate: %d %v, want 401", code, err)
	}
	// TLS below 1.2 is refused.
	old := authtest.Client(t, serverCA, nil)
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
	old.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10
	if _, err := old.Get(base + "/healthz"); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
}

// TestCertificateReloaded: a renewed certificate is served without a restart.
func TestCertificateReloaded(t *testing.T) {
	serverCA := authtest.NewCA(t, "server CA")
	a, _ := auth.New(auth.WithClientCerts(auth.CertMapping{AgenciesByCN: true}))
	base, files := tlsStack(t, principalServer(t, a), serverCA, serverCA)
	serial := func() *big.Int {
		resp, err := authtest.Client(t, serverCA, nil).Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber
	}
	first := serial()
	renewed := serverCA.Server(t)
	authtest.WriteFile(t, filepath.Dir(files.CertFile), "tls.key", renewed.KeyPEM)
	authtest.WriteFile(t, filepath.Dir(files.CertFile), "tls.crt", renewed.CertPEM)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(files.CertFile, later, later)
	os.Chtimes(files.KeyFile, later, later)
	deadline := time.Now().Add(5 * time.Second)
	for serial().Cmp(first) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served within 5 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := TLSConfig(TLSFiles{CertFile: files.CertFile}); err == nil {
		t.Error("TLS without a key file accepted")
	}
}

// TestMetricsToken: /metrics wants its own bearer token, not a principal;
// /healthz and /readyz want nothing; other routes a principal.
func TestMetricsToken(t *testing.T) {
	users, _ := auth.NewBasicUsers(map[string]string{})
	a, _ := auth.New(auth.WithBasicUsers(users))
	s := principalServer(t, a, MetricsToken("metrics-token-0123456789"))
	do := func(path, authz string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, _ := do("/metrics", "Bearer metrics-token-0123456789"); code != 200 {
		t.Fatalf("/metrics with its token: %d", code)
	}
	if code, body := do("/metrics", "Bearer wrong"); code != 401 || !strings.Contains(body, `"missing":"metrics token"`) {
		t.Fatalf("/metrics with a wrong token: %d %s", code, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := do(p, ""); code != 200 {
			t.Errorf("%s without credentials: %d", p, code)
		}
	}
	for _, p := range []string{"/", "/api/v1/whoami", "/registry/subjects", "/nope"} {
		if code, _ := do(p, ""); code != 401 {
			t.Errorf("%s without credentials: %d, want 401", p, code)
		}
	}
	if code, body := do("/registry/subjects", ""); code != 401 || !strings.HasPrefix(body, `{"error_code":401,`) {
		t.Errorf("/registry without credentials: %d %s, want Confluent's error shape", code, body)
	}
	// Metrics elsewhere: no /metrics route here.
	s2 := principalServer(t, a, MetricsElsewhere())
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	req.SetBasicAuth("x", "y")
	s2.ServeHTTP(rec, req)
	if rec.Code != 401 || s2.MetricsHandler() == nil {
		t.Errorf("with MetricsElsewhere /metrics is %d here", rec.Code)
	}
}

// TestPublicPrefix: paths under a public prefix are served without
// credentials (the console authenticates by its own cookie); a path that
// only looks like it (another prefix, a dot-dot escape) still needs them.
func TestPublicPrefix(t *testing.T) {
	users, err := auth.NewBasicUsers(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.WithBasicUsers(users))
	s := New(nil, nil)
	s.SetAuthenticator(a)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "served") })
	s.Handle("/console/", ok)
	s.Handle("GET /consolex", ok)
	s.Handle("GET /api/v1/secret", ok)
	s.PublicPrefix("/console/")
	for path, want := range map[string]int{
		"/console/":                 http.StatusOK,
		"/console/audit":            http.StatusOK,
		"/consolex":                 http.StatusUnauthorized,
		"/console/../api/v1/secret": http.StatusUnauthorized,
		"/api/v1/secret":            http.StatusUnauthorized,
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "http://x"+path, nil)
		req.URL.Path = path // keep the dot-dot as a client could send it
		s.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET %s without credentials: %d, want %d", path, rec.Code, want)
		}
	}
}
