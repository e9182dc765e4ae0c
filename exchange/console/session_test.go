package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

func testSessions(now *time.Time, secure bool) *sessions {
	return &sessions{key: []byte(strings.Repeat("k", 32)), secure: secure, now: func() time.Time { return *now }, gone: map[string]int64{}}
}

// signedInCookie signs p in and returns the session cookie set.
func signedInCookie(t *testing.T, m *sessions, p *auth.Principal) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	m.signIn(rec, p)
	for _, c := range rec.Result().Cookies() {
		if c.Name == m.name(sessionCookie) {
			return c
		}
	}
	t.Fatal("signIn set no session cookie")
	return nil
}

// TestSessionCookie: the cookie carries the principal, is HttpOnly,
// SameSite=Strict and (by default) Secure with the __Host- prefix; a
// changed byte, an expired cookie, or a logged-out one is no session.
func TestSessionCookie(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	m := testSessions(&now, true)
	p := &auth.Principal{Kind: auth.KindSteward, Subject: "amara.okafor", Agency: "health", Roles: []string{auth.RoleSteward}, Method: auth.MethodOIDC}
	c := signedInCookie(t, m, p)
	if c.Name != "__Host-exchange_console" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Fatalf("cookie attributes: %+v", c)
	}
	req := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/console/", nil)
		r.AddCookie(c)
		return r
	}
	s := m.read(req(c))
	if got := s.principal(); got == nil || got.Subject != "amara.okafor" || got.Agency != "health" || !got.HasRole(auth.RoleSteward) {
		t.Fatalf("session principal %+v", got)
	}
	forged := *c
	body, sig, _ := strings.Cut(c.Value, ".")
	forged.Value = strings.Replace(body, body[:4], "eyJz", 1) + "x." + sig
	if m.read(req(&forged)) != nil {
		t.Error("a changed cookie was accepted")
	}
	other := testSessions(&now, true)
	other.key = []byte(strings.Repeat("o", 32))
	if other.read(req(c)) != nil {
		t.Error("a cookie signed under another key was accepted")
	}
	later := now.Add(SessionLifetime + time.Second)
	if testSessions(&later, true).read(req(c)) != nil {
		t.Error("an expired session was accepted")
	}
	m.signOut(httptest.NewRecorder(), s)
	if m.read(req(c)) != nil {
		t.Error("a logged-out session was accepted")
	}
	if plain := testSessions(&now, false); signedInCookie(t, plain, p).Secure {
		t.Error("plain-HTTP dev cookie is Secure")
	}
}

// TestCSRFTokenBelongsToItsSession: a form passes only with its own
// session's token; another session's token or none is refused.
func TestCSRFTokenBelongsToItsSession(t *testing.T) {
	now := time.Now()
	m := testSessions(&now, true)
	p := &auth.Principal{Kind: auth.KindAuditor, Subject: "auditor", Roles: []string{auth.RoleAuditor}}
	a, b := signedInCookie(t, m, p), signedInCookie(t, m, p)
	sa, _ := m.decode(a.Value)
	sb, _ := m.decode(b.Value)
	post := func(c *http.Cookie, token string) bool {
		form := url.Values{}
		if token != "" {
			form.Set(csrfField, token)
		}
		r := httptest.NewRequest(http.MethodPost, "/console/integrity/verify", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(c)
		return m.checkCSRF(r)
	}
	if !post(a, m.csrf(sa)) {
		t.Error("own token refused")
	}
	if post(a, m.csrf(sb)) {
		t.Error("another session's token accepted")
	}
	if post(a, "") {
		t.Error("no token accepted")
	}
}
