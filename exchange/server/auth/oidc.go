package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Algorithms are the only JWT signature algorithms accepted. "none" and
// the HMAC family are absent: go-jose refuses a token of any other
// algorithm before looking at a key, so a public key can never be used as
// an HMAC secret.
var Algorithms = []string{oidc.EdDSA, oidc.RS256, oidc.ES256}

// DefaultClockSkew is how far exp and nbf may be off.
const DefaultClockSkew = 30 * time.Second

// ClaimNames are the claims the agency id and the roles are read from.
// A dotted name walks nested objects ("realm_access.roles", as Keycloak
// puts roles). Roles may be a JSON array of strings or one
// space-separated string.
type ClaimNames struct {
	Agency string `yaml:"agency"` // default "agency"
	Roles  string `yaml:"roles"`  // default "roles"
}

// OIDCConfig is the trusted token issuer.
type OIDCConfig struct {
	// Issuer is the iss every token must carry, exactly; required.
	Issuer string
	// Audience must be one of a token's aud; required.
	Audience string
	// JWKSURL is where the issuer's keys are; "" discovers it from
	// Issuer + /.well-known/openid-configuration. Keys are fetched again
	// when a token names a kid not seen yet (key rotation).
	JWKSURL string
	// Keys, when set, are the only keys (tests and exchange dev's own
	// issuer); no JWKS is fetched.
	Keys []crypto.PublicKey
	// Algorithms accepted, a subset of the package's Algorithms; default all.
	Algorithms []string
	Claims     ClaimNames
	// ClockSkew tolerated on exp and nbf; default DefaultClockSkew.
	ClockSkew time.Duration
	// HTTPClient fetches discovery and JWKS; default http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// OIDC verifies bearer JWTs of one issuer and maps their claims to a
// Principal.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	cfg      OIDCConfig
}

// NewOIDC builds the verifier of cfg. With neither Keys nor JWKSURL it
// runs OIDC discovery against the issuer now (bounded by ctx); the JWKS
// itself is fetched on the first token and whenever a token names an
// unknown kid.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("oidc: issuer and audience are required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = Algorithms
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("oidc: algorithm %q is not accepted (only %s)", a, strings.Join(Algorithms, ", "))
		}
	}
	if cfg.Claims.Agency == "" {
		cfg.Claims.Agency = "agency"
	}
	if cfg.Claims.Roles == "" {
		cfg.Claims.Roles = "roles"
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	keys, err := keySet(ctx, cfg)
	if err != nil {
		return nil, err
	}
	v := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: cfg.Algorithms,
		// exp and nbf are checked in Verify with ClockSkew: the library
		// allows no skew on exp and five minutes on nbf.
		SkipExpiryCheck: true,
	})
	return &OIDC{verifier: v, cfg: cfg}, nil
}

// keySet is the static keys of cfg, or the issuer's JWKS (remote, cached,
// refetched on an unknown kid).
func keySet(ctx context.Context, cfg OIDCConfig) (oidc.KeySet, error) {
	if len(cfg.Keys) > 0 {
		return &oidc.StaticKeySet{PublicKeys: cfg.Keys}, nil
	}
	url := cfg.JWKSURL
	if url == "" {
		p, err := oidc.NewProvider(ctx, cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("oidc: discovering %s (or set auth.oidc.jwks_url): %w", cfg.Issuer, err)
		}
		var meta struct {
			JWKSURL string `json:"jwks_uri"`
		}
		if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
			return nil, fmt.Errorf("oidc: %s's discovery document has no jwks_uri", cfg.Issuer)
		}
		url = meta.JWKSURL
	}
	// The key set outlives ctx (a request's or startup's): it refetches
	// keys for as long as the process runs.
	return oidc.NewRemoteKeySet(context.WithoutCancel(ctx), url), nil
}

// Verify checks raw (the JWT of a bearer header) and returns its principal.
// Errors are *Error: 401 for a token that is not valid, 403 for a valid
// token whose claims make no usable principal.
func (o *OIDC) Verify(ctx context.Context, raw string) (*Principal, error) {
	tok, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, unauthorized("Bearer", "valid credentials", "bearer token refused: "+o.explain(err), err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, unauthorized("Bearer", "valid credentials", "bearer token refused: claims are not a JSON object", err)
	}
	if err := o.checkTimes(claims); err != nil {
		return nil, err
	}
	agency, _ := claim(claims, o.cfg.Claims.Agency).(string)
	return NewPrincipal(MethodOIDC, tok.Subject, agency, rolesOf(claim(claims, o.cfg.Claims.Roles)))
}

// explain turns the library's refusal into a message that names the
// failed check and never quotes the token.
func (o *OIDC) explain(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "issued by a different provider"):
		return fmt.Sprintf("not issued by the trusted issuer %s", o.cfg.Issuer)
	case strings.Contains(msg, "expected audience"):
		return fmt.Sprintf("audience does not include %q", o.cfg.Audience)
	case strings.Contains(msg, "malformed jwt"):
		return fmt.Sprintf("not a JWT signed with %s", strings.Join(o.cfg.Algorithms, ", "))
	case strings.Contains(msg, "failed to verify signature"):
		return "signature not made by a key of the trusted issuer"
	}
	return "not valid"
}

// checkTimes requires exp, and that now is before exp and after nbf, each
// within the clock skew.
func (o *OIDC) checkTimes(claims map[string]any) error {
	now := o.cfg.Now()
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return unauthorized("Bearer", "valid credentials", "bearer token refused: no exp claim", nil)
	}
	if now.After(exp.Add(o.cfg.ClockSkew)) {
		return unauthorized("Bearer", "valid credentials", "bearer token refused: expired at "+exp.UTC().Format(time.RFC3339), nil)
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && now.Add(o.cfg.ClockSkew).Before(nbf) {
		return unauthorized("Bearer", "valid credentials", "bearer token refused: not valid before "+nbf.UTC().Format(time.RFC3339), nil)
	}
	return nil
}

func numericDate(v any) (time.Time, bool) {
	f, ok := v.(float64)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// claim walks a dotted claim name through nested objects.
func claim(claims map[string]any, name string) any {
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// rolesOf reads a roles claim: an array of strings, or one space-separated
// string (as scope claims are).
func rolesOf(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, r := range v {
			if s, ok := r.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
