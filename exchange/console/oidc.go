// Production sign-in: the OpenID Connect authorization-code flow with
// PKCE (RFC 7636, S256) against the exchange's configured issuer. The
// console is a public client (a client secret is optional). The token
// endpoint's access token is presented to the HTTP API's authenticator,
// like a bearer token on /api/v1: the issuer must issue JWT access tokens
// whose aud is the exchange's audience (auth.oidc.audience), and the
// principal and roles come from the same claims as the API's.

package console

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCLogin is the console's client at the issuer.
type OIDCLogin struct {
	// Issuer is auth.oidc.issuer; its discovery document gives the
	// authorization and token endpoints.
	Issuer string
	// ClientID of the console at the issuer (auth.oidc.console_client_id).
	ClientID string
	// ClientSecret, when the issuer wants one (a confidential client).
	ClientSecret string
	// RedirectURL is this exchange's <base>/console/oidc/callback,
	// registered at the issuer (auth.oidc.console_redirect_url).
	RedirectURL string
	// Scopes asked for besides openid.
	Scopes []string
	// HTTPClient talks to the issuer; default http.DefaultClient.
	HTTPClient *http.Client
}

// oidcFlowLifetime bounds the time from sign-in to callback.
const oidcFlowLifetime = 10 * time.Minute

const oidcCookie = "exchange_console_oidc"

// oidcFlow is what the browser carries between the redirect to the
// issuer and the callback, in a signed cookie: the state that ties the
// callback to this browser, and the PKCE verifier.
type oidcFlow struct {
	State    string `json:"state"`
	Verifier string `json:"verifier"`
	Expires  int64  `json:"exp"`
}

// oidcClient is the oauth2 configuration, discovered once.
type oidcClient struct {
	conf oauth2.Config
	hc   *http.Client
}

// newOIDCClient discovers the issuer's endpoints.
func newOIDCClient(ctx context.Context, l *OIDCLogin) (*oidcClient, error) {
	if l.Issuer == "" || l.ClientID == "" || l.RedirectURL == "" {
		return nil, errors.New("console OIDC sign-in: issuer, client id and redirect URL are required")
	}
	hc := l.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), l.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console OIDC sign-in: discovering %s: %w", l.Issuer, err)
	}
	return &oidcClient{hc: hc, conf: oauth2.Config{ClientID: l.ClientID, ClientSecret: l.ClientSecret, RedirectURL: l.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, l.Scopes...)}}, nil
}

// signinOIDC sends the browser to the issuer with a fresh state and PKCE
// challenge. It is a GET link, not a form: the CSP's form-action 'self'
// would stop a form's redirect to the issuer, and starting a sign-in
// changes nothing (the state check at the callback is what keeps a
// forged answer out).
func (c *Console) signinOIDC(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		c.fail(w, r, http.StatusNotFound, "OIDC sign-in is not configured.")
		return
	}
	f := oidcFlow{State: newID(), Verifier: oauth2.GenerateVerifier(), Expires: c.now().Add(oidcFlowLifetime).Unix()}
	body, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: c.sess.name(oidcCookie), Path: "/", Value: base64.RawURLEncoding.EncodeToString(body) + "." +
		base64.RawURLEncoding.EncodeToString(c.sess.mac("oidc/", body)),
		// Lax, not Strict: the callback is a top-level navigation from
		// the issuer's site, on which a Strict cookie is not sent.
		Expires: time.Unix(f.Expires, 0), Secure: c.sess.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, c.oidc.conf.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

// readFlow checks the flow cookie's signature and expiry.
func (c *Console) readFlow(r *http.Request) (*oidcFlow, error) {
	ck, err := r.Cookie(c.sess.name(oidcCookie))
	if err != nil {
		return nil, errors.New("no sign-in in progress in this browser (or it took longer than 10 minutes)")
	}
	b64, sig64, _ := strings.Cut(ck.Value, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	var f oidcFlow
	if err1 != nil || err2 != nil || !hmac.Equal(sig, c.sess.mac("oidc/", body)) || json.Unmarshal(body, &f) != nil {
		return nil, errors.New("the sign-in cookie is not valid")
	}
	if c.now().Unix() >= f.Expires {
		return nil, errors.New("the sign-in took longer than 10 minutes; start again")
	}
	return &f, nil
}

// oidcCallback takes the issuer's answer: the state must be this
// browser's, the code is exchanged with the PKCE verifier, and the access
// token goes through the API's authenticator.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if c.oidc == nil {
		c.fail(w, r, http.StatusNotFound, "OIDC sign-in is not configured.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.sess.name(oidcCookie), Path: "/", MaxAge: -1, Secure: c.sess.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		c.fail(w, r, http.StatusUnauthorized, "The issuer refused the sign-in: "+e+" "+q.Get("error_description"))
		return
	}
	f, err := c.readFlow(r)
	if err == nil && !hmac.Equal([]byte(q.Get("state")), []byte(f.State)) {
		err = errors.New("the sign-in answer does not belong to this browser's sign-in (state mismatch)")
	}
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	tok, err := c.oidc.conf.Exchange(oidc.ClientContext(r.Context(), c.oidc.hc), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		c.log.Warn("console OIDC code exchange failed", "err", err)
		c.fail(w, r, http.StatusBadGateway, "The issuer did not exchange the sign-in code for a token.")
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, Prefix, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	p, err := c.cfg.Authenticator.Authenticate(req)
	if err != nil {
		c.fail(w, r, http.StatusForbidden, "The issuer's token is not accepted by this exchange: "+err.Error())
		return
	}
	c.sess.signIn(w, p)
	c.log.Info("console sign-in", "who", p.String(), "method", "oidc authorization code")
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}
