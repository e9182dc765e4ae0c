package kafkaclient

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// kfake implements no OAUTHBEARER (its SASL is PLAIN and SCRAM), so the
// mechanism's messages are tested here against RFC 7628 and the
// client-credentials fetch against an httptest endpoint; a kfake broker
// only shows the mechanism goes through kafka-go's handshake.

func tokenFile(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOAuthBearerMessages: the client's initial response is RFC 7628's
// (GS2 header, auth=Bearer, 0x01 separators); an empty server message is
// success; an error challenge is answered with 0x01 and the exchange then
// fails naming the broker's status, never the token.
func TestOAuthBearerMessages(t *testing.T) {
	ctx := context.Background()
	p := tokenFile(t, "eyJhbGciOi.first.sig")
	m := oauthBearer{token: tokenFromFile(p)}
	if m.Name() != "OAUTHBEARER" {
		t.Errorf("name %q", m.Name())
	}
	sess, ir, err := m.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,,\x01auth=Bearer eyJhbGciOi.first.sig\x01\x01"; string(ir) != want {
		t.Errorf("initial response %q, want %q", ir, want)
	}
	if done, resp, err := sess.Next(ctx, []byte{}); !done || resp != nil || err != nil {
		t.Errorf("empty server message: done %v, response %q, %v; want success", done, resp, err)
	}

	// Rotation: the next connection reads the file again.
	if err := os.WriteFile(p, []byte("eyJhbGciOi.second.sig"), 0o600); err != nil {
		t.Fatal(err)
	}
	sess, ir, err = m.Start(ctx)
	if err != nil || !strings.Contains(string(ir), "Bearer eyJhbGciOi.second.sig\x01") {
		t.Fatalf("after rotation: %q %v, want the new token", ir, err)
	}
	done, resp, err := sess.Next(ctx, []byte(`{"status":"invalid_token","scope":"kafka"}`))
	if done || string(resp) != "\x01" || err != nil {
		t.Fatalf("error challenge: done %v, response %q, %v; want the 0x01 answer", done, resp, err)
	}
	_, _, err = sess.Next(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "invalid_token (scope kafka)") || strings.Contains(err.Error(), "second") {
		t.Errorf("after the 0x01 answer: %v, want a refusal naming the status without the token", err)
	}

	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Start(ctx); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
}

// TestOAuthBearerClientCredentials: tokens come from the endpoint with the
// client-credentials grant (client id and secret in HTTP Basic, the
// scope), are cached until shortly before expiry, and a refusal names the
// OAuth error code, never the secret.
func TestOAuthBearerClientCredentials(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials" || r.PostFormValue("scope") != "kafka" || !ok || id != "exchange" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		if secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client","error_description":"bad secret s3cret?"}`))
			return
		}
		n := fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-` + string(rune('0'+n)) + `","token_type":"Bearer","expires_in":3600}`))
	}))
	defer srv.Close()

	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("s3cret\n"), 0o600)
	cfg := Config{Brokers: []string{"k:9092"}, SASL: &SASL{Mechanism: OAuthBearer, TokenEndpoint: srv.URL + "/token", ClientID: "exchange", ClientSecretFile: secretFile, Scope: "kafka"}}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Dialer().SASLMechanism.(oauthBearer)
	if c.Transport().(*kafka.Transport).SASL.Name() != OAuthBearer {
		t.Error("the transport does not carry OAUTHBEARER")
	}
	ctx := context.Background()
	for range 3 {
		if _, ir, err := m.Start(ctx); err != nil || !strings.Contains(string(ir), "auth=Bearer tok-1\x01") {
			t.Fatalf("initial response %q %v, want the fetched token", ir, err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three connections, want one (cached)", n)
	}

	// Near expiry the token is renewed.
	cc := &clientCredentials{endpoint: srv.URL, clientID: "exchange", scope: "kafka", secret: secretReader(secretFile, os.Getenv),
		http: srv.Client(), now: time.Now}
	if _, err := cc.get(ctx); err != nil {
		t.Fatal(err)
	}
	cc.now = func() time.Time { return time.Now().Add(54 * time.Minute) }
	if tok, err := cc.get(ctx); err != nil || tok != "tok-2" {
		t.Errorf("after 54 of 60 minutes: %q %v, want the cached token", tok, err)
	}
	cc.now = func() time.Time { return time.Now().Add(56 * time.Minute) }
	if tok, err := cc.get(ctx); err != nil || tok != "tok-3" {
		t.Errorf("after 56 of 60 minutes: %q %v, want a new token", tok, err)
	}

	// A rotated, wrong secret: the endpoint's refusal, without the secret.
	os.WriteFile(secretFile, []byte("wrong-s3cret"), 0o600)
	cc.token = ""
	_, err = cc.get(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 (invalid_client)") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("refused client: %v, want HTTP 401 (invalid_client) without the secret", err)
	}

	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("kafka", "kafka", cfg)
	for _, s := range []string{logged.String(), cfg.String()} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "client_id=exchange client_secret=file:"+secretFile) {
			t.Errorf("description %q leaks the secret or misses the token source", s)
		}
	}
}

// TestOAuthBearerConfig: one token source, no password, https only (http
// to loopback for tests), and the OAUTHBEARER keys with no other mechanism.
func TestOAuthBearerConfig(t *testing.T) {
	base := Config{Brokers: []string{"k1:9092"}}
	for _, c := range []struct {
		sasl SASL
		want string
	}{
		{SASL{Mechanism: OAuthBearer}, "needs one of token_file and token_endpoint"},
		{SASL{Mechanism: OAuthBearer, TokenFile: "/t", TokenEndpoint: "https://idp/token", ClientID: "x"}, "needs one of token_file and token_endpoint"},
		{SASL{Mechanism: OAuthBearer, TokenFile: "/t", PasswordFile: "/p"}, "password_file: does not apply to OAUTHBEARER"},
		{SASL{Mechanism: OAuthBearer, TokenFile: "/t", Scope: "kafka"}, "go with token_endpoint"},
		{SASL{Mechanism: OAuthBearer, TokenEndpoint: "http://idp.example/token", ClientID: "x"}, "use https"},
		{SASL{Mechanism: OAuthBearer, TokenEndpoint: "https://u:p@idp.example/token", ClientID: "x"}, "credentials in the URL"},
		{SASL{Mechanism: OAuthBearer, TokenEndpoint: "https://idp.example/token"}, "client_id: required"},
		{SASL{Mechanism: ScramSHA512, Username: "x", TokenFile: "/t"}, "apply to OAUTHBEARER only"},
	} {
		cfg := base
		cfg.SASL = &c.sasl
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.sasl, err, c.want)
		}
	}
	for _, ok := range []SASL{
		{Mechanism: OAuthBearer, TokenFile: "/t"},
		{Mechanism: OAuthBearer, TokenEndpoint: "https://idp.example/token", ClientID: "x", Scope: "kafka"},
		{Mechanism: OAuthBearer, TokenEndpoint: "http://127.0.0.1:8080/token", ClientID: "x"},
	} {
		cfg := base
		cfg.SASL = &ok
		if err := cfg.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	cfg := base
	cfg.SASL = &SASL{Mechanism: OAuthBearer, TokenEndpoint: "https://idp.example/token", ClientID: "x"}
	if _, err := New(cfg, Getenv(func(string) string { return "" })); err == nil || !strings.Contains(err.Error(), "no client secret: set client_secret_file or "+ClientSecretEnv) {
		t.Errorf("no client secret: %v", err)
	}
	cfg.SASL = &SASL{Mechanism: OAuthBearer, TokenFile: filepath.Join(t.TempDir(), "missing")}
	if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "kafka.sasl.token_file: ") {
		t.Errorf("missing token file: %v", err)
	}
}

// TestOAuthBearerThroughKafkaGo: the mechanism plugs into kafka-go's
// handshake; kfake, which has no OAUTHBEARER, refuses it by name.
func TestOAuthBearerThroughKafkaGo(t *testing.T) {
	addr := saslCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := New(Config{Brokers: []string{addr}, SASL: &SASL{Mechanism: OAuthBearer, TokenFile: tokenFile(t, "tok")}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Ping(ctx)
	if !errors.Is(err, kafka.UnsupportedSASLMechanism) || !strings.Contains(err.Error(), "OAUTHBEARER token=file:") {
		t.Errorf("ping: %v, want the broker's unsupported-mechanism answer", err)
	}
}
