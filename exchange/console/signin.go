// Sign-in and logout. In dev mode the sign-in page lists the identities
// exchange dev issued tokens for (Config.DevTokens); signing in as one
// presents its token to the HTTP API's own authenticator, so the
// console's principal and roles are exactly what the API would see for
// that token.

package console

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// DevToken is one identity the dev sign-in page offers: a name (what the
// form posts, e.g. "stewards/amara.okafor.token") and its bearer token.
type DevToken struct {
	Name  string
	Token string
}

// devIdentity is one identity of the dev sign-in page, authenticated.
type devIdentity struct {
	File      string // DevToken.Name: the form's value
	Principal *auth.Principal
	token     string
}

// devIdentities lists the dev tokens the authenticator accepts, in the
// order given, sorted by agency (auditor and operator first).
func (c *Console) devIdentities(ctx context.Context) []devIdentity {
	if c.cfg.DevTokens == nil || c.cfg.Authenticator == nil {
		return nil
	}
	toks, err := c.cfg.DevTokens()
	if err != nil {
		c.log.Warn("dev sign-in: reading the dev tokens", "err", err)
		return nil
	}
	var out []devIdentity
	for _, tok := range toks {
		p, err := c.authenticateToken(ctx, tok.Token)
		if err != nil {
			c.log.Debug("dev identity not offered", "name", tok.Name, "err", err)
			continue
		}
		out = append(out, devIdentity{File: tok.Name, Principal: p, token: tok.Token})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Principal.Agency < out[j].Principal.Agency
	})
	return out
}

// authenticateToken presents a bearer token to the HTTP API's
// authenticator.
func (c *Console) authenticateToken(ctx context.Context, token string) (*auth.Principal, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, Prefix, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	return c.cfg.Authenticator.Authenticate(req)
}

type signinData struct {
	OIDC bool // the issuer sign-in button
	Dev  []devIdentity
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	s := c.sess.preSession(w, r)
	v := &view{Principal: s.principal(), CSRF: c.sess.csrf(s), Title: "Sign in", Nav: "signin",
		Data: signinData{OIDC: c.oidc != nil, Dev: c.devIdentities(r.Context())}}
	if c.cfg.DevTokens == nil && c.oidc == nil {
		v.Error = "No sign-in is configured: set auth.oidc.console_client_id and auth.oidc.console_redirect_url (see README \"HTTP identity\")."
	}
	c.render(w, r, "signin", v)
}

// signinDev signs in as one of the dev identities (CSRF-checked by
// ServeHTTP like every POST).
func (c *Console) signinDev(w http.ResponseWriter, r *http.Request) {
	want := r.PostFormValue("identity")
	for _, id := range c.devIdentities(r.Context()) {
		if id.File == want {
			c.sess.signIn(w, id.Principal)
			c.log.Info("console sign-in", "who", id.Principal.String(), "method", "dev token")
			http.Redirect(w, r, Prefix, http.StatusSeeOther)
			return
		}
	}
	c.fail(w, r, http.StatusBadRequest, "No such dev identity; choose one from the sign-in page.")
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if s := c.sess.read(r); s != nil && s.Kind != "" {
		c.sess.signOut(w, s)
	}
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}
