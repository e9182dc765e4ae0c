package devissuer

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

const (
	// KeyFile is the issuer's Ed25519 key in exchange dev's data
	// directory (PEM, PKCS #8, 0600; its public key beside it as .pub).
	KeyFile = "issuer.key"
	// Audience is the aud of every dev token, and what the dev exchange
	// requires.
	Audience = "exchange"
	// JWKSPath is where the dev exchange serves the issuer's keys.
	JWKSPath = "/.well-known/jwks.json"
	// Lifetime of a dev token.
	Lifetime = 365 * 24 * time.Hour
)

// Issuer signs exchange dev's tokens.
type Issuer struct {
	key ed25519.PrivateKey
	kid string
	url string
}

// Load reads the issuer key from dataDir (creating it the first time);
// url is the iss of its tokens, the dev server's base URL
// (http://127.0.0.1:8080).
func Load(dataDir, url string) (*Issuer, error) {
	key, err := ledger.LoadOrCreateKey(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("dev issuer key: %w", err)
	}
	return New(key, url)
}

// New is an issuer with the given key.
func New(key ed25519.PrivateKey, url string) (*Issuer, error) {
	jwk := jose.JSONWebKey{Key: key.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key thumbprint: %w", err)
	}
	return &Issuer{key: key, kid: base64.RawURLEncoding.EncodeToString(tp), url: url}, nil
}

// URL is the issuer (iss of its tokens).
func (i *Issuer) URL() string { return i.url }

// Key is the issuer's private key.
func (i *Issuer) Key() ed25519.PrivateKey { return i.key }

// PublicKey verifies the issuer's tokens.
func (i *Issuer) PublicKey() ed25519.PublicKey { return i.key.Public().(ed25519.PublicKey) }

// JWKS is the issuer's key set as JSON (RFC 7517), with its kid.
func (i *Issuer) JWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.PublicKey(), KeyID: i.kid, Algorithm: string(jose.EdDSA), Use: "sig"}}}
	return json.Marshal(set)
}

// JWKSHandler serves JWKS; it needs no credentials.
func (i *Issuer) JWKSHandler() (http.Handler, error) {
	body, err := i.JWKS()
	if err != nil {
		return nil, fmt.Errorf("dev issuer JWKS: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), nil
}

// Claims are what a dev token says.
type Claims struct {
	Subject string   `json:"sub"`
	Agency  string   `json:"agency,omitempty"`
	Roles   []string `json:"roles"`
}

// Token signs c as a JWT (EdDSA) issued at iat, valid for Lifetime.
func (i *Issuer) Token(c Claims, iat time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: i.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.kid))
	if err != nil {
		return "", fmt.Errorf("dev issuer: %w", err)
	}
	std := jwt.Claims{
		Issuer: i.url, Subject: c.Subject, Audience: jwt.Audience{Audience},
		IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), Expiry: jwt.NewNumericDate(iat.Add(Lifetime)),
	}
	tok, err := jwt.Signed(signer).Claims(std).Claims(c).Serialize()
	if err != nil {
		return "", fmt.Errorf("dev issuer: signing a token for %s: %w", c.Subject, err)
	}
	return tok, nil
}

// OIDC is the verifier of the issuer's tokens: the same verifier serve
// uses for a configured issuer, given the issuer's key instead of a JWKS URL.
func (i *Issuer) OIDC(ctx context.Context) (*auth.OIDC, error) {
	return auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: i.url, Audience: Audience, Keys: []crypto.PublicKey{i.PublicKey()}})
}

// BasicUsers are the agencies as HTTP Basic users, each with the hash of
// its secret. The cost is bcrypt's least: it guards low-entropy
// passwords, and dev secrets are 256 random-looking bits.
func BasicUsers(agencies []string, secret func(agency string) string) (*auth.BasicUsers, error) {
	hashes := map[string]string{}
	for _, a := range agencies {
		h, err := bcrypt.GenerateFromPassword([]byte(secret(a)), bcrypt.MinCost)
		if err != nil {
			return nil, fmt.Errorf("hashing %s's registry secret: %w", a, err)
		}
		hashes[a] = string(h)
	}
	return auth.NewBasicUsers(hashes)
}

// Authenticator accepts the issuer's tokens and, over Basic, the agencies'
// secrets.
func (i *Issuer) Authenticator(ctx context.Context, agencies []string, secret func(agency string) string, log *slog.Logger) (*auth.Authenticator, error) {
	v, err := i.OIDC(ctx)
	if err != nil {
		return nil, err
	}
	users, err := BasicUsers(agencies, secret)
	if err != nil {
		return nil, err
	}
	return auth.New(auth.WithOIDC(v), auth.WithBasicUsers(users), auth.WithLogger(log))
}
