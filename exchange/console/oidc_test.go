package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// testIdP is an OpenID provider for the sign-in test: discovery, an
// authorization endpoint that signs the user in at once (as claims),
// and a token endpoint that checks the PKCE verifier against the
// challenge (S256) before it hands out an access token signed by a dev
// issuer. exchange/tools/devissuer serves no authorization endpoint, so
// the test brings its own.
type testIdP struct {
	srv    *httptest.Server
	iss    *devissuer.Issuer
	claims devissuer.Claims
	mu     sync.Mutex
	codes  map[string]string // code → code_challenge
	asked  url.Values        // the last authorization request
}

func newTestIdP(t *testing.T, claims devissuer.Claims) *testIdP {
	t.Helper()
	p := &testIdP{claims: claims, codes: map[string]string{}}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if p.iss, err = devissuer.New(key, p.srv.URL); err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"EdDSA"}})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	return p
}

func (p *testIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.asked = q
	code := base64.RawURLEncoding.EncodeToString([]byte(time.Now().String()))
	p.codes[code] = q.Get("code_challenge")
	p.mu.Unlock()
	back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back, http.StatusFound)
}

func (p *testIdP) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	challenge, ok := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	tok, err := p.iss.Token(p.claims, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 300})
}

// TestOIDCSignIn: in chromium, the console's OIDC sign-in goes to the
// issuer with a PKCE S256 challenge, exchanges the code with the verifier
// (the issuer refuses a wrong one), and signs the user in with the roles
// of the access token as the API's authenticator reads them; a callback
// whose state is not the browser's is refused.
func TestOIDCSignIn(t *testing.T) {
	b := newBrowserOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idp := newTestIdP(t, devissuer.Claims{Subject: "dpo.kovacs", Roles: []string{auth.RoleAuditor}})
	s := startStack(ctx, t, 0, func(c *app.Config, base string) {
		authn, err := idp.iss.Authenticator(ctx, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.HTTP.Auth = authn
		c.Console = app.ConsoleConfig{PlainHTTPCookies: true, OIDC: &console.OIDCLogin{
			Issuer: idp.srv.URL, ClientID: "exchange-console", RedirectURL: base + console.Prefix + "oidc/callback"}}
	})
	b.mu.Lock()
	b.base = s.base
	b.mu.Unlock()

	b.open(t, console.Prefix+"signin")
	if b.count(t, "#dev-identities") != 0 {
		t.Error("dev identities offered without dev credentials")
	}
	b.do(t, "signing in at the issuer", chromedp.Click(chromedp.CSS("#oidc-signin")), chromedp.WaitVisible(chromedp.CSS("#flows")))
	if got := b.text(t, "#who"); got != "Signed in as dpo.kovacs · role auditor" {
		t.Errorf("header after OIDC sign-in: %q", got)
	}
	idp.mu.Lock()
	asked := idp.asked
	idp.mu.Unlock()
	if asked.Get("code_challenge_method") != "S256" || asked.Get("code_challenge") == "" || asked.Get("client_id") != "exchange-console" ||
		asked.Get("response_type") != "code" || asked.Get("state") == "" {
		t.Errorf("authorization request: %v", asked)
	}
	b.shot(t, "overview-oidc")
	b.signOut(t)

	// A callback with a code but another state: refused, nobody signed in.
	b.open(t, console.Prefix+"oidc/callback?code=x&state=forged")
	if got := b.text(t, "h1"); got != "Bad Request" {
		t.Errorf("forged callback answered %q", got)
	}
	b.open(t, console.Prefix)
	if b.count(t, "#flows") != 0 {
		t.Error("a forged callback signed someone in")
	}
}
