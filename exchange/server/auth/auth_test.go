package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

const (
	testIssuer   = "https://id.example.test/realms/exchange"
	testAudience = "exchange"
)

// claims of a test token: the registered claims and the exchange's.
type claims struct {
	jwt.Claims
	Agency string `json:"agency,omitempty"`
	Roles  any    `json:"roles,omitempty"`
}

func validClaims(now time.Time) claims {
	return claims{
		Claims: jwt.Claims{Issuer: testIssuer, Subject: "health-gateway", Audience: jwt.Audience{testAudience},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))},
		Agency: "health", Roles: []string{"publisher", "consumer"},
	}
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, c any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// whoami serves the request's principal as JSON behind the middleware.
func whoami(a *auth.Authenticator) http.Handler {
	return a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no principal", 500)
			return
		}
		_ = json.NewEncoder(w).Encode(p)
	}), func(r *http.Request) bool { return r.URL.Path == "/healthz" }, func(r *http.Request) auth.ErrorFormat {
		if strings.HasPrefix(r.URL.Path, "/registry/") {
			return auth.FormatConfluent
		}
		return auth.FormatAPI
	})
}

type answer struct {
	status int
	body   string
	header http.Header
	who    auth.Principal
}

func call(t *testing.T, c *http.Client, url string, set func(*http.Request)) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if set != nil {
		set(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(body), header: resp.Header}
	if resp.StatusCode == 200 {
		_ = json.Unmarshal(body, &a.who)
	}
	return a
}

func bearerHeader(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func oidcWith(t *testing.T, cfg auth.OIDCConfig) *auth.OIDC {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer, cfg.Audience = testIssuer, testAudience
	}
	v, err := auth.NewOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBearerTokens: a valid token passes with its principal; every kind of
// bad token is refused with 401 and a message naming the failed check,
// never the token.
func TestBearerTokens(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	a, err := auth.New(auth.WithOIDC(oidcWith(t, auth.OIDCConfig{Keys: []crypto.PublicKey{pub}})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(whoami(a))
	defer srv.Close()

	good := sign(t, jose.EdDSA, key, "k1", validClaims(now))
	got := call(t, srv.Client(), srv.URL+"/api/v1/audit", bearerHeader(good))
	want := auth.Principal{Kind: auth.KindAgency, Subject: "health-gateway", Agency: "health", Roles: []string{"publisher", "consumer"}, Method: auth.MethodOIDC}
	if got.status != 200 || got.who.Kind != want.Kind || got.who.Agency != want.Agency || got.who.Subject != want.Subject ||
		strings.Join(got.who.Roles, ",") != "publisher,consumer" || got.who.Method != want.Method {
		t.Fatalf("valid token: %d %s, want %+v", got.status, got.body, want)
	}

	mod := func(f func(*claims)) claims { c := validClaims(now); f(&c); return c }
	payload, _ := json.Marshal(validClaims(now))
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	// HMAC keyed with the public key: the classic confusion attack.
	hmacWithPub := sign(t, jose.HS256, []byte(pub), "k1", validClaims(now))
	for name, tc := range map[string]struct {
		token string
		why   string
	}{
		"alg none":         {none, "not a JWT signed with EdDSA, RS256, ES256"},
		"HMAC, public key": {hmacWithPub, "not a JWT signed with EdDSA, RS256, ES256"},
		"another key":      {sign(t, jose.EdDSA, otherKey, "k1", validClaims(now)), "signature not made by a key of the trusted issuer"},
		"wrong issuer":     {sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) { c.Issuer = "https://evil.test" })), "not issued by the trusted issuer " + testIssuer},
		"wrong audience":   {sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) { c.Audience = jwt.Audience{"other"} })), `audience does not include \"exchange\"`},
		"expired":          {sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), "expired at"},
		"not yet valid":    {sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) })), "not valid before"},
		"no exp":           {sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) { c.Expiry = nil })), "no exp claim"},
		"garbage":          {"not-a-jwt", "not a JWT"},
	} {
		got := call(t, srv.Client(), srv.URL+"/api/v1/audit", bearerHeader(tc.token))
		if got.status != 401 || !strings.Contains(got.body, tc.why) || !strings.Contains(got.body, `"missing":"valid credentials"`) {
			t.Errorf("%s: %d %s, want 401 saying %q", name, got.status, got.body, tc.why)
		}
		if strings.Contains(got.body, tc.token) || strings.Contains(got.header.Get("WWW-Authenticate"), tc.token) {
			t.Errorf("%s: the answer echoes the token", name)
		}
		if h := got.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, `Bearer realm="exchange", error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q", name, h)
		}
	}

	// Within the clock skew (30 s) exp and nbf still pass.
	skewed := sign(t, jose.EdDSA, key, "k1", mod(func(c *claims) {
		c.Expiry, c.NotBefore = jwt.NewNumericDate(now.Add(-10*time.Second)), jwt.NewNumericDate(now.Add(10*time.Second))
	}))
	if got := call(t, srv.Client(), srv.URL+"/x", bearerHeader(skewed)); got.status != 200 {
		t.Errorf("token 10 s past exp and before nbf: %d %s, want 200 within the skew", got.status, got.body)
	}
}

// TestTokenClaimsMakePrincipals: roles decide the kind; a steward needs a
// sub and an agency; unknown roles are forbidden; claim names are
// configurable and may be nested.
func TestTokenClaimsMakePrincipals(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	v := oidcWith(t, auth.OIDCConfig{Keys: []crypto.PublicKey{pub}})
	tok := func(f func(*claims)) string { c := validClaims(now); f(&c); return sign(t, jose.EdDSA, key, "", c) }
	for name, tc := range map[string]struct {
		token  string
		kind   auth.Kind
		status int
	}{
		"steward":          {tok(func(c *claims) { c.Subject, c.Roles = "amara.okafor", []string{"steward"} }), auth.KindSteward, 0},
		"auditor":          {tok(func(c *claims) { c.Agency, c.Roles = "", []string{"auditor"} }), auth.KindAuditor, 0},
		"operator":         {tok(func(c *claims) { c.Agency, c.Roles = "", "operator extra" }), auth.KindOperator, 0},
		"no known role":    {tok(func(c *claims) { c.Roles = []string{"admin"} }), "", 403},
		"agency, none":     {tok(func(c *claims) { c.Agency = "" }), "", 403},
		"steward, no sub":  {tok(func(c *claims) { c.Subject, c.Roles = "", []string{"steward"} }), "", 403},
		"roles not a list": {tok(func(c *claims) { c.Roles = 7 }), "", 403},
	} {
		p, err := v.Verify(context.Background(), tc.token)
		var e *auth.Error
		switch {
		case tc.status != 0:
			if !errorsAs(err, &e) || e.Status != tc.status {
				t.Errorf("%s: %v, want status %d", name, err, tc.status)
			}
		case err != nil || p.Kind != tc.kind:
			t.Errorf("%s: %+v %v, want kind %s", name, p, err, tc.kind)
		}
	}

	nested := oidcWith(t, auth.OIDCConfig{Keys: []crypto.PublicKey{pub}, Claims: auth.ClaimNames{Agency: "org.agency_id", Roles: "realm_access.roles"}})
	c := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "priya.raman", "exp": now.Add(time.Hour).Unix(),
		"org": map[string]any{"agency_id": "social-services"}, "realm_access": map[string]any{"roles": []string{"steward", "offline_access"}}}
	p, err := nested.Verify(context.Background(), sign(t, jose.EdDSA, key, "", c))
	if err != nil || p.Kind != auth.KindSteward || p.Agency != "social-services" || p.Subject != "priya.raman" || strings.Join(p.Roles, ",") != "steward" {
		t.Fatalf("nested claims: %+v %v", p, err)
	}
	if s := p.String(); s != "steward priya.raman of social-services (oidc)" {
		t.Errorf("String() = %q", s)
	}
}

func errorsAs(err error, e **auth.Error) bool {
	x, ok := err.(*auth.Error)
	if ok {
		*e = x
	}
	return ok
}

// TestRemoteJWKSRotation: the production path: keys come from the
// issuer's JWKS (RS256 and ES256 here); a token signed with a key added
// later (a new kid) verifies after the key set is fetched again.
func TestRemoteJWKSRotation(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var mu sync.Mutex
	keys := []jose.JSONWebKey{{Key: rsaKey.Public(), KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"}}
	fetches := 0
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	}))
	defer jwks.Close()
	v := oidcWith(t, auth.OIDCConfig{JWKSURL: jwks.URL, HTTPClient: jwks.Client()})
	now := time.Now()
	if _, err := v.Verify(context.Background(), sign(t, jose.RS256, rsaKey, "rsa-1", validClaims(now))); err != nil {
		t.Fatalf("RS256 token of the JWKS: %v", err)
	}
	ecTok := sign(t, jose.ES256, ecKey, "ec-2", validClaims(now))
	if _, err := v.Verify(context.Background(), ecTok); err == nil {
		t.Fatal("a token of a key not (yet) in the JWKS verified")
	}
	mu.Lock()
	keys = append(keys, jose.JSONWebKey{Key: ecKey.Public(), KeyID: "ec-2", Algorithm: "ES256", Use: "sig"})
	mu.Unlock()
	// go-oidc joins a fetch still in flight: the call right after the
	// refused one may share that fetch's answer (the old set), so the new
	// key must verify within a few calls, not necessarily the first.
	var err error
	for i := 0; i < 5; i++ {
		if _, err = v.Verify(context.Background(), ecTok); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after rotation, the new kid's token: %v", err)
	}
	if fetches < 2 {
		t.Fatalf("the JWKS was fetched %d times, want again on the unknown kid", fetches)
	}
}

// TestOIDCConfigRefusesWeakAlgorithms: only EdDSA, RS256 and ES256.
func TestOIDCConfigRefusesWeakAlgorithms(t *testing.T) {
	for _, alg := range []string{"none", "HS256", "RS384x"} {
		if _, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: testIssuer, Audience: testAudience, Keys: []crypto.PublicKey{nil}, Algorithms: []string{alg}}); err == nil {
			t.Errorf("algorithm %s accepted", alg)
		}
	}
	if _, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: testIssuer}); err == nil {
		t.Error("no audience accepted")
	}
	if _, err := auth.New(); err == nil {
		t.Error("an authenticator with no method was built")
	}
}

func writeUsers(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBasicUsers: what Confluent serializers send (basic.auth.user.info):
// right password → the agency with publisher and consumer; wrong or
// unknown → 401 in Confluent's shape under /registry; a users file with a
// plain password is refused.
func TestBasicUsers(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("s3cret-health"), bcrypt.MinCost)
	path := writeUsers(t, "# registry users", "health:"+string(bc), "tax:"+auth.HashArgon2id("s3cret-tax", []byte("0123456789abcdef")))
	users, err := auth.LoadBasicUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(auth.WithBasicUsers(users))
	srv := httptest.NewServer(whoami(a))
	defer srv.Close()
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	for _, u := range []struct{ user, pw string }{{"health", "s3cret-health"}, {"tax", "s3cret-tax"}, {"tax", "s3cret-tax"}} {
		got := call(t, srv.Client(), srv.URL+"/registry/subjects", basic(u.user, u.pw))
		if got.status != 200 || got.who.Kind != auth.KindAgency || got.who.Agency != u.user || got.who.Method != auth.MethodBasic ||
			strings.Join(got.who.Roles, ",") != "publisher,consumer" {
			t.Fatalf("%s with the right password: %d %s", u.user, got.status, got.body)
		}
	}
	for _, u := range []struct{ user, pw string }{{"health", "wrong"}, {"nobody", "s3cret-health"}, {"tax", "s3cret-health"}} {
		got := call(t, srv.Client(), srv.URL+"/registry/subjects", basic(u.user, u.pw))
		if got.status != 401 || !strings.HasPrefix(got.body, `{"error_code":401,"message":"Basic credentials refused`) || strings.Contains(got.body, u.pw) {
			t.Errorf("%s/%s: %d %s, want 401 in Confluent's shape without the password", u.user, u.pw, got.status, got.body)
		}
		if h := got.header.Get("WWW-Authenticate"); h != `Basic realm="exchange"` {
			t.Errorf("WWW-Authenticate %q", h)
		}
	}
	// An edited file is read again.
	time.Sleep(1100 * time.Millisecond)
	bc2, _ := bcrypt.GenerateFromPassword([]byte("rotated"), bcrypt.MinCost)
	os.WriteFile(path, []byte("health:"+string(bc2)+"\n"), 0o600)
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(path, future, future)
	if got := call(t, srv.Client(), srv.URL+"/x", basic("health", "rotated")); got.status != 200 {
		t.Errorf("after the users file changed: %d %s", got.status, got.body)
	}
	if got := call(t, srv.Client(), srv.URL+"/x", basic("health", "s3cret-health")); got.status != 401 {
		t.Errorf("the old password still works after the users file changed: %d", got.status)
	}

	for _, bad := range []string{"health:plaintext", "health", ":$2a$04$x", "health:$argon2id$v=19$m=x$y$z"} {
		if _, err := auth.LoadBasicUsers(writeUsers(t, bad)); err == nil {
			t.Errorf("users file line %q accepted", bad)
		}
	}
}

// TestNoCredentials: 401 naming what is missing, with a challenge per
// accepted scheme; an unaccepted scheme likewise; public paths pass.
func TestNoCredentials(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	users, _ := auth.NewBasicUsers(map[string]string{})
	a, _ := auth.New(auth.WithOIDC(oidcWith(t, auth.OIDCConfig{Keys: []crypto.PublicKey{pub}})), auth.WithBasicUsers(users))
	srv := httptest.NewServer(whoami(a))
	defer srv.Close()
	got := call(t, srv.Client(), srv.URL+"/api/v1/audit", nil)
	if got.status != 401 || !strings.Contains(got.body, `"missing":"credentials"`) || !strings.Contains(got.body, "Authorization: Bearer <token>") {
		t.Fatalf("anonymous: %d %s", got.status, got.body)
	}
	if h := got.header.Values("WWW-Authenticate"); strings.Join(h, "|") != `Bearer realm="exchange"|Basic realm="exchange"` {
		t.Errorf("WWW-Authenticate %q", h)
	}
	got = call(t, srv.Client(), srv.URL+"/registry/subjects", func(r *http.Request) { r.Header.Set("Authorization", "Digest abc") })
	if got.status != 401 || !strings.Contains(got.body, `"error_code":401`) || !strings.Contains(got.body, `\"Digest\" is not accepted`) {
		t.Fatalf("Digest: %d %s", got.status, got.body)
	}
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 500 { // whoami: reached, without a principal
		t.Fatalf("/healthz did not pass the middleware: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestForbiddenShapes: good credentials without a usable identity are 403
// (no challenge), in Confluent's shape (40301) under /registry.
func TestForbiddenShapes(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	a, _ := auth.New(auth.WithOIDC(oidcWith(t, auth.OIDCConfig{Keys: []crypto.PublicKey{pub}})))
	srv := httptest.NewServer(whoami(a))
	defer srv.Close()
	c := validClaims(time.Now())
	c.Roles = []string{"admin"}
	tok := bearerHeader(sign(t, jose.EdDSA, key, "", c))
	got := call(t, srv.Client(), srv.URL+"/registry/subjects", tok)
	if got.status != 403 || !strings.HasPrefix(got.body, `{"error_code":40301,"message":"the credentials hold no role`) || got.header.Get("WWW-Authenticate") != "" {
		t.Errorf("/registry: %d %s %q", got.status, got.body, got.header.Get("WWW-Authenticate"))
	}
	got = call(t, srv.Client(), srv.URL+"/api/v1/audit", tok)
	if got.status != 403 || !strings.Contains(got.body, `"missing":"role"`) {
		t.Errorf("/api/v1/audit: %d %s", got.status, got.body)
	}
}
