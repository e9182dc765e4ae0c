package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server/auth/authtest"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
)

// TestServeRefusesUnauthenticatedHTTP: with Kafka authenticated but no
// HTTP authentication (auth.oidc, auth.basic, http.tls.client_ca), serve
// refuses to start unless --insecure, which /readyz then shows.
func TestServeRefusesUnauthenticatedHTTP(t *testing.T) {
	t.Setenv("EXCHANGE_KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("EXCHANGE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("EXCHANGE_KAFKA_SASL_USERNAME", "exchange")
	t.Setenv("EXCHANGE_KAFKA_SASL_PASSWORD_FILE", filepath.Join(t.TempDir(), "pw"))
	t.Setenv("EXCHANGE_DATABASE_URL", "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("EXCHANGE_CONTRACTS_DIR", t.TempDir())
	t.Setenv("EXCHANGE_KEY_FILE", filepath.Join(t.TempDir(), "k"))
	err := runServe(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "http: no authentication configured") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("serve without HTTP authentication: %v", err)
	}
}

// serveWorld is `exchange serve` run in-process with every HTTP
// credential configured: an OIDC issuer (its JWKS on a test server), a
// Basic users file, TLS with a client CA, and a metrics token.
type serveWorld struct {
	base               string
	serverCA, agencyCA *authtest.CA
	issuerKey          *rsa.PrivateKey
	issuer             string
	metricsToken       string
}

func startServe(ctx context.Context, t *testing.T) *serveWorld {
	t.Helper()
	w := &serveWorld{serverCA: authtest.NewCA(t, "server CA"), agencyCA: authtest.NewCA(t, "agencies CA"), metricsToken: "metrics-0123456789abcdef"}
	jwksURL := w.startIssuer(t)

	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	key := filepath.Join(dir, "secret.key")
	preregisterSchemas(ctx, t, db, key)

	server := w.serverCA.Server(t)
	bc, _ := bcrypt.GenerateFromPassword([]byte("health-registry-secret"), bcrypt.MinCost)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http:
  addr: %s
  tls: {cert_file: %s, key_file: %s, client_ca: %s}
  metrics_token_file: %s
auth:
  oidc: {issuer: %s, audience: exchange, jwks_url: %s}
  basic: {users_file: %s}
  mtls: {agencies: {"spiffe://gov.example/tax": tax}}
`, addr, authtest.WriteFile(t, dir, "tls.crt", server.CertPEM), authtest.WriteFile(t, dir, "tls.key", server.KeyPEM),
		authtest.WriteFile(t, dir, "ca.pem", w.agencyCA.PEM), authtest.WriteFile(t, dir, "metrics-token", []byte(w.metricsToken+"\n")),
		w.issuer, jwksURL, authtest.WriteFile(t, dir, "users", append([]byte("health:"), bc...)))
	t.Setenv("EXCHANGE_KAFKA_BROKERS", b.Addr())
	t.Setenv("EXCHANGE_DATABASE_URL", db)
	t.Setenv("EXCHANGE_CONTRACTS_DIR", examplesDir)
	t.Setenv("EXCHANGE_KEY_FILE", key)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	// --insecure for Kafka only: the embedded broker has no SASL here.
	go func() {
		done <- runServe(runCtx, []string{"--config", authtest.WriteFile(t, dir, "exchange.yaml", []byte(cfg)), "--insecure", "--log-json=false"})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	w.base = "https://" + addr
	anon := authtest.Client(t, w.serverCA, nil)
	waitHealthy(t, "serve", anon, w.base, done)
	return w
}

// startIssuer makes w an OIDC issuer whose JWKS a test server serves
// (w.token signs its tokens) and returns the JWKS URL.
func (w *serveWorld) startIssuer(t *testing.T) string {
	t.Helper()
	w.issuerKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	jwks := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(rw).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuerKey.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(jwks.Close)
	w.issuer = jwks.URL + "/realms/exchange"
	return jwks.URL
}

// preregisterSchemas registers deploy/examples' schemas in the store, as
// publishers would have through /registry (serve registers no files).
func preregisterSchemas(ctx context.Context, t *testing.T, db, key string) {
	t.Helper()
	iss, err := app.New(ctx, app.Config{
		Kafka: exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}}}, DatabaseURL: db,
		ContractsDir: examplesDir, RegisterSchemaFiles: true, KeyFile: key, CreateKey: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: app.HTTPSecurity{Insecure: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	iss.Close()
}

func (w *serveWorld) token(t *testing.T, issuer, audience string, exp time.Time) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: w.issuerKey}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(jwt.Claims{Issuer: issuer, Subject: "health-gateway", Audience: jwt.Audience{audience}, Expiry: jwt.NewNumericDate(exp)}).
		Claims(map[string]any{"agency": "health", "roles": []string{"publisher", "consumer"}}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func status(t *testing.T, c *http.Client, method, url string, set func(*http.Request)) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(`{"compatibility":"NONE"}`))
	if set != nil {
		set(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestServeAuthenticatesEveryCall runs `exchange serve` over TLS with
// OIDC, Basic and client certificates configured, and calls it as
// clients would.
func TestServeAuthenticatesEveryCall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs exchange serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := startServe(ctx, t)
	anon := authtest.Client(t, w.serverCA, nil)
	subject := names.IngressSubject("health.immunisations")

	if code, body := status(t, anon, "PUT", w.base+"/registry/config/"+subject, nil); code != 401 || !strings.HasPrefix(body, `{"error_code":401`) {
		t.Errorf("anonymous PUT /registry/config: %d %s", code, body)
	}
	if code, body := status(t, anon, "GET", w.base+"/api/v1/audit", nil); code != 401 || !strings.Contains(body, `"missing":"credentials"`) {
		t.Errorf("anonymous /api/v1/audit: %d %s", code, body)
	}
	if code, _ := status(t, anon, "GET", w.base+"/healthz", nil); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	metrics := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	if code, body := status(t, anon, "GET", w.base+"/metrics", metrics(w.metricsToken)); code != 200 || !strings.Contains(body, "exchange_plan_reloads_total") {
		t.Errorf("/metrics with its token: %d", code)
	}
	if code, _ := status(t, anon, "GET", w.base+"/metrics", nil); code != 401 {
		t.Errorf("/metrics without its token: %d", code)
	}

	bearer := metrics
	now := time.Now()
	if code, body := status(t, anon, "GET", w.base+"/api/v1/audit", bearer(w.token(t, w.issuer, "exchange", now.Add(time.Hour)))); code != 200 {
		t.Errorf("a token of the configured issuer: %d %s", code, body)
	}
	for name, tok := range map[string]string{
		"wrong issuer":   w.token(t, "https://evil.test", "exchange", now.Add(time.Hour)),
		"wrong audience": w.token(t, w.issuer, "other", now.Add(time.Hour)),
		"expired":        w.token(t, w.issuer, "exchange", now.Add(-time.Hour)),
	} {
		if code, body := status(t, anon, "GET", w.base+"/api/v1/audit", bearer(tok)); code != 401 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}

	basic := func(pw string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth("health", pw) } }
	if code, body := status(t, anon, "GET", w.base+"/registry/subjects", basic("health-registry-secret")); code != 200 || !strings.Contains(body, subject) {
		t.Errorf("Basic with the right password: %d %s", code, body)
	}
	if code, _ := status(t, anon, "GET", w.base+"/registry/subjects", basic("wrong")); code != 401 {
		t.Errorf("Basic with a wrong password: %d", code)
	}

	health := w.agencyCA.Client(t, "health", nil, nil)
	if code, body := status(t, authtest.Client(t, w.serverCA, &health), "GET", w.base+"/api/v1/audit", nil); code != 200 {
		t.Errorf("health's client certificate: %d %s", code, body)
	}
	tax := w.agencyCA.Client(t, "gateway", nil, []string{"spiffe://gov.example/tax"})
	if code, body := status(t, authtest.Client(t, w.serverCA, &tax), "GET", w.base+"/registry/subjects", nil); code != 200 {
		t.Errorf("tax's client certificate (mapped SAN): %d %s", code, body)
	}
	rogue := authtest.NewCA(t, "rogue").Client(t, "health", nil, nil)
	if _, err := authtest.Client(t, w.serverCA, &rogue).Get(w.base + "/healthz"); err == nil {
		t.Error("a client certificate of an unknown CA was accepted at the handshake")
	}
}
