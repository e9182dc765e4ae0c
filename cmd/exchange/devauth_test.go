package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// devHTTP is exchange dev's HTTP surface (its issuer, tokens and Basic
// secrets, as runDev builds them) served on a real port; no broker is
// needed for HTTP.
type devHTTP struct {
	base, data, creds string
}

func startDevHTTP(t *testing.T) devHTTP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	d := devHTTP{base: "http://" + srv.Listener.Addr().String(), data: t.TempDir()}
	d.creds = devCredentialsDir(d.data)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sec, err := devHTTPSecurity(context.Background(), d.data, examplesDir, d.base, log)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), app.Config{
		HTTP:        sec,
		Kafka:       exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}}},
		DatabaseURL: "sqlite://" + filepath.Join(d.data, devLedgerFile), ContractsDir: examplesDir,
		RegisterSchemaFiles: true, KeyFile: filepath.Join(d.data, devSecretKeyName), CreateKey: true,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv.Config.Handler = a.HTTP()
	srv.Start()
	t.Cleanup(srv.Close)
	return d
}

// do sends method path with body and the Authorization header authz
// (none when ""), and returns the status and body.
func (d devHTTP) do(t *testing.T, method, path, body, authz string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func tokenOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + strings.TrimSpace(string(b))
}

// TestDevHTTPNeedsCredentials replays the anonymous attack against
// exchange dev's HTTP surface: every write and read is 401 without
// credentials; /healthz, /readyz and the issuer's JWKS need none; the
// tokens exchange dev writes pass, as do the agencies' registry secrets
// over Basic; forged, expired or foreign tokens do not.
func TestDevHTTPNeedsCredentials(t *testing.T) {
	d := startDevHTTP(t)
	subject := names.IngressSubject("health.immunisations")
	anonymous := []struct{ method, path, body string }{
		{"PUT", "/registry/config/" + subject, `{"compatibility":"NONE"}`},
		{"POST", "/registry/subjects/" + subject + "/versions", `{"schema":"{\"type\":\"record\",\"name\":\"Evil\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}"}`},
		{"DELETE", "/registry/subjects/" + names.IngressSubject("tax.income-assessments"), ""},
		{"GET", "/registry/schemas/ids/1", ""},
		{"GET", "/api/v1/audit", ""},
		{"GET", "/api/v1/lineage?delivery_id=00", ""},
		{"GET", "/metrics", ""},
		{"GET", "/", ""},
	}
	for _, c := range anonymous {
		code, body := d.do(t, c.method, c.path, c.body, "")
		if code != 401 {
			t.Errorf("anonymous %s %s: %d %s, want 401", c.method, c.path, code, body)
		}
		if strings.HasPrefix(c.path, "/registry") && !strings.HasPrefix(body, `{"error_code":401,"message":"no credentials`) {
			t.Errorf("anonymous %s %s: body %s, want Confluent's error shape", c.method, c.path, body)
		}
	}
	if code, body := d.do(t, "GET", "/api/v1/audit", "", ""); !strings.Contains(body, `"missing":"credentials"`) {
		t.Errorf("/api/v1/audit: %d %s, want the missing credentials named", code, body)
	}
	for _, p := range []string{"/healthz", devissuer.JWKSPath} {
		if code, body := d.do(t, "GET", p, "", ""); code != 200 {
			t.Errorf("%s without credentials: %d %s, want 200", p, code, body)
		}
	}
	if code, _ := d.do(t, "GET", "/readyz", "", ""); code == 401 {
		t.Error("/readyz wants credentials")
	}
	var jwks jose.JSONWebKeySet
	_, body := d.do(t, "GET", devissuer.JWKSPath, "", "")
	if err := json.Unmarshal([]byte(body), &jwks); err != nil || len(jwks.Keys) != 1 || jwks.Keys[0].KeyID == "" || jwks.Keys[0].Algorithm != "EdDSA" {
		t.Fatalf("JWKS %s: %v", body, err)
	}

	// The written tokens authenticate (authorization comes later: for now
	// any principal may do what the route does).
	for _, f := range []string{devissuer.AgencyToken(d.creds, "health"), devissuer.StewardToken(d.creds, "amara.okafor"),
		filepath.Join(d.creds, devissuer.AuditorFile), filepath.Join(d.creds, devissuer.OperatorFile)} {
		if code, body := d.do(t, "GET", "/api/v1/audit", "", tokenOf(t, f)); code != 200 {
			t.Errorf("GET /api/v1/audit with %s: %d %s", f, code, body)
		}
		if code, body := d.do(t, "GET", "/registry/subjects/"+subject+"/versions/latest", "", tokenOf(t, f)); code != 200 {
			t.Errorf("GET the latest schema with %s: %d %s", f, code, body)
		}
	}

	// Forged tokens.
	iss, err := devissuer.Load(d.data, d.base)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := devissuer.New(otherKey, d.base)
	wrongIss, _ := devissuer.New(iss.Key(), "http://evil.test")
	health := devissuer.Claims{Subject: "health", Agency: "health", Roles: []string{"publisher", "consumer"}}
	sign := func(i *devissuer.Issuer, c devissuer.Claims, iat time.Time) string {
		tok, err := i.Token(c, iat)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	wrongAud, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: iss.Key()}, nil)
	wrongAudTok, _ := jwt.Signed(wrongAud).Claims(jwt.Claims{Issuer: d.base, Subject: "health", Audience: jwt.Audience{"other"},
		Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}).Claims(health).Serialize()
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(strings.TrimPrefix(sign(iss, health, time.Now()), "Bearer "), ".")[1] + "."
	for name, authz := range map[string]string{
		"alg none":       "Bearer " + none,
		"another key":    sign(other, health, time.Now()),
		"wrong issuer":   sign(wrongIss, health, time.Now()),
		"wrong audience": "Bearer " + wrongAudTok,
		"expired":        sign(iss, health, time.Now().Add(-devissuer.Lifetime-time.Hour)),
	} {
		if code, body := d.do(t, "POST", "/registry/subjects/"+subject+"/versions", anonymous[1].body, authz); code != 401 || !strings.Contains(body, "bearer token refused") {
			t.Errorf("%s: %d %s, want 401", name, code, body)
		}
	}
	if code, body := d.do(t, "GET", "/api/v1/audit", "", sign(iss, health, time.Now())); code != 200 {
		t.Errorf("a fresh token of the dev issuer: %d %s", code, body)
	}

	// Basic, as Confluent serializers send basic.auth.user.info.
	keys, err := app.LoadOrCreateKeys(filepath.Join(d.data, devSecretKeyName), false)
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, secret string) string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(user, secret)
		return req.Header.Get("Authorization")
	}
	if code, body := d.do(t, "GET", "/registry/subjects", "", basic("health", devRegistrySecret(keys, "health"))); code != 200 || !strings.Contains(body, subject) {
		t.Errorf("Basic with health's registry secret: %d %s", code, body)
	}
	for name, authz := range map[string]string{
		"wrong secret":          basic("health", "guess"),
		"another agency's":      basic("health", devRegistrySecret(keys, "tax")),
		"an agency not in yaml": basic("nobody", devRegistrySecret(keys, "nobody")),
	} {
		if code, body := d.do(t, "GET", "/registry/subjects", "", authz); code != 401 || strings.Contains(body, "guess") {
			t.Errorf("Basic, %s: %d %s, want 401", name, code, body)
		}
	}
}
