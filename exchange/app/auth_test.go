package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// testIssuer signs the tokens of every exchange these tests start: one
// fresh key per test binary, and the issuer URL the exchanges trust.
var testIssuer = sync.OnceValue(func() *devissuer.Issuer {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	iss, err := devissuer.New(key, "https://issuer.test")
	if err != nil {
		panic(err)
	}
	return iss
})

// testHTTP is the HTTP security of an exchange under test: it trusts
// testIssuer.
func testHTTP(t *testing.T) HTTPSecurity {
	t.Helper()
	a, err := testIssuer().Authenticator(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return HTTPSecurity{Auth: a}
}

// bearer is the Authorization header of a testIssuer token with claims c.
func bearer(t *testing.T, c devissuer.Claims) string {
	t.Helper()
	tok, err := testIssuer().Token(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

var (
	operator = devissuer.Claims{Subject: "op", Roles: []string{auth.RoleOperator}}
	// healthPublisher is the health agency's system.
	healthPublisher = devissuer.Claims{Subject: "health", Agency: "health", Roles: []string{auth.RolePublisher, auth.RoleConsumer}}
)

// apiGet GETs base+path as an operator.
func apiGet(t *testing.T, base, path string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", bearer(t, operator))
	return http.DefaultClient.Do(req)
}

// TestHTTPAuthenticationRequired: New refuses an HTTP surface without
// authentication; with Insecure it serves one, and /readyz says so.
func TestHTTPAuthenticationRequired(t *testing.T) {
	cfg := func(sec HTTPSecurity) Config {
		data := t.TempDir()
		return Config{
			Kafka: kafkaAt("127.0.0.1:1"), DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
			ContractsDir: "../../deploy/examples", RegisterSchemaFiles: true,
			KeyFile: filepath.Join(data, "k"), CreateKey: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: sec,
		}
	}
	if _, err := New(context.Background(), cfg(HTTPSecurity{})); err == nil || !strings.Contains(err.Error(), "no authentication configured") {
		t.Fatalf("New without HTTP authentication: %v", err)
	}
	a, err := New(context.Background(), cfg(HTTPSecurity{Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.HTTP().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if !strings.Contains(rec.Body.String(), `"http_security":"INSECURE: `) {
		t.Errorf("/readyz of an insecure surface: %s", rec.Body)
	}
}
