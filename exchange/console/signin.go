// Sign-in and logout. In dev mode the sign-in page lists the identities
// exchange dev issued tokens for (devissuer's files under the credentials
// directory); signing in as one presents its token to the HTTP API's own
// authenticator, so the console's principal and roles are exactly what
// the API would see for that token.

package console

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// devIdentity is one identity of the dev sign-in page.
type devIdentity struct {
	File      string // relative to the credentials dir: the form's value
	Principal *auth.Principal
}

// devIdentities lists the dev tokens the authenticator accepts, auditor
// and operator first, then stewards and agency systems by agency.
func (c *Console) devIdentities(ctx context.Context) []devIdentity {
	dir := c.cfg.DevCredentials
	if dir == "" || c.cfg.Authenticator == nil {
		return nil
	}
	files := []string{devissuer.AuditorFile, devissuer.OperatorFile}
	for _, sub := range []string{devissuer.StewardsDir, devissuer.AgenciesDir} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*"+devissuer.TokenExt))
		sort.Strings(m)
		for _, f := range m {
			files = append(files, filepath.Join(sub, filepath.Base(f)))
		}
	}
	var out []devIdentity
	for _, f := range files {
		p, err := c.authenticateFile(ctx, f)
		if err != nil {
			c.log.Debug("dev identity not offered", "file", f, "err", err)
			continue
		}
		out = append(out, devIdentity{File: f, Principal: p})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].Principal.Agency < out[j].Principal.Agency
	})
	return out
}

// authenticateFile presents the token in file (under the credentials
// dir) to the authenticator.
func (c *Console) authenticateFile(ctx context.Context, file string) (*auth.Principal, error) {
	tok, err := os.ReadFile(filepath.Join(c.cfg.DevCredentials, file))
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, Prefix, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
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
	if c.cfg.DevCredentials == "" && c.oidc == nil {
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
