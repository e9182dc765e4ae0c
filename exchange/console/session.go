// Sessions and CSRF tokens. A session is a signed cookie, not server
// state: the principal the sign-in authenticated, an id and an expiry,
// under an HMAC key the exchange derives from its master key (every
// process of a group accepts the others' sessions). Logout clears the
// cookie and remembers its id in this process until it expires, so a
// copied cookie is refused here too; another process of the group accepts
// it until its expiry (SessionLifetime bounds that).

package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// SessionLifetime is how long a sign-in lasts.
const SessionLifetime = 8 * time.Hour

// Cookie names. With Secure cookies the session takes the __Host- prefix:
// the browser then refuses it from a subdomain or over plain HTTP.
const (
	sessionCookie    = "exchange_console"
	preSessionCookie = "exchange_console_pre"
	csrfField        = "csrf"
)

// session is what the cookie carries.
type session struct {
	ID      string      `json:"sid"`
	Kind    auth.Kind   `json:"kind,omitempty"` // empty: a pre-session (not signed in)
	Subject string      `json:"sub,omitempty"`
	Agency  string      `json:"agency,omitempty"`
	Roles   []string    `json:"roles,omitempty"`
	Method  auth.Method `json:"method,omitempty"`
	Expires int64       `json:"exp"`
}

func (s *session) principal() *auth.Principal {
	if s == nil || s.Kind == "" {
		return nil
	}
	return &auth.Principal{Kind: s.Kind, Subject: s.Subject, Agency: s.Agency, Roles: s.Roles, Method: s.Method}
}

// sessions signs and checks cookies.
type sessions struct {
	key    []byte
	secure bool
	now    func() time.Time
	mu     sync.Mutex
	gone   map[string]int64 // logged-out session ids → expiry
}

func newID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

func (m *sessions) mac(label string, b []byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(label))
	h.Write(b)
	return h.Sum(nil)
}

func (m *sessions) name(base string) string {
	if m.secure {
		return "__Host-" + base
	}
	return base
}

// encode signs s into a cookie value.
func (m *sessions) encode(s *session) string {
	body, _ := json.Marshal(s)
	return base64.RawURLEncoding.EncodeToString(body) + "." +
		base64.RawURLEncoding.EncodeToString(m.mac("session/", body))
}

var errBadSession = errors.New("no valid session")

// decode checks a cookie value's signature, expiry and logout.
func (m *sessions) decode(v string) (*session, error) {
	b64, sig64, ok := strings.Cut(v, ".")
	if !ok {
		return nil, errBadSession
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, m.mac("session/", body)) {
		return nil, errBadSession
	}
	var s session
	if err := json.Unmarshal(body, &s); err != nil || s.ID == "" {
		return nil, errBadSession
	}
	if m.now().Unix() >= s.Expires {
		return nil, errBadSession
	}
	m.mu.Lock()
	_, out := m.gone[s.ID]
	m.mu.Unlock()
	if out {
		return nil, errBadSession
	}
	return &s, nil
}

// read returns the request's session: the signed-in one, else the
// pre-session (for the sign-in form's CSRF token), else nil.
func (m *sessions) read(r *http.Request) *session {
	for _, n := range []string{sessionCookie, preSessionCookie} {
		if c, err := r.Cookie(m.name(n)); err == nil {
			if s, err := m.decode(c.Value); err == nil {
				return s
			}
		}
	}
	return nil
}

// set writes s as cookie name.
func (m *sessions) set(w http.ResponseWriter, name string, s *session) {
	http.SetCookie(w, &http.Cookie{Name: m.name(name), Value: m.encode(s), Path: "/", Expires: time.Unix(s.Expires, 0),
		Secure: m.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (m *sessions) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: m.name(name), Value: "", Path: "/", MaxAge: -1,
		Secure: m.secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// preSession returns the request's session or starts a pre-session, so
// every form, the sign-in form included, carries a CSRF token.
func (m *sessions) preSession(w http.ResponseWriter, r *http.Request) *session {
	if s := m.read(r); s != nil {
		return s
	}
	s := &session{ID: newID(), Expires: m.now().Add(SessionLifetime).Unix()}
	m.set(w, preSessionCookie, s)
	return s
}

// signIn starts a session of p with a fresh id (a pre-session id an
// attacker planted never becomes a signed-in one).
func (m *sessions) signIn(w http.ResponseWriter, p *auth.Principal) {
	s := &session{ID: newID(), Kind: p.Kind, Subject: p.Subject, Agency: p.Agency, Roles: p.Roles, Method: p.Method,
		Expires: m.now().Add(SessionLifetime).Unix()}
	m.set(w, sessionCookie, s)
	m.clear(w, preSessionCookie)
}

// signOut ends s here and clears the cookie.
func (m *sessions) signOut(w http.ResponseWriter, s *session) {
	m.mu.Lock()
	now := m.now().Unix()
	for id, exp := range m.gone {
		if exp <= now {
			delete(m.gone, id)
		}
	}
	m.gone[s.ID] = s.Expires
	m.mu.Unlock()
	m.clear(w, sessionCookie)
}

// csrf is the CSRF token of a session: a MAC of its id, so a token is
// good for one session only and needs no server state.
func (m *sessions) csrf(s *session) string {
	return base64.RawURLEncoding.EncodeToString(m.mac("csrf/", []byte(s.ID)))
}

// checkCSRF reports whether r's form carries its session's token.
func (m *sessions) checkCSRF(r *http.Request) bool {
	s := m.read(r)
	if s == nil {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(m.csrf(s)))
}
