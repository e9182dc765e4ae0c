// Package auth authenticates every HTTP request of the exchange: it turns
// the request's credentials into a Principal (IDENTITY.md: an agency
// system, a steward, an auditor, an operator, or the exchange itself) and
// puts it in the request's context, or answers 401 itself.
//
// Three kinds of credentials are accepted, each only when configured:
//
//   - Authorization: Bearer <JWT> from the configured OIDC issuer (Method
//     "oidc"): the signature is checked against the issuer's JWKS, the
//     algorithm must be EdDSA, RS256 or ES256 (never none, never HMAC, so a
//     public key can never be used as an HMAC secret), and issuer, audience,
//     exp and nbf are checked with a small clock skew. The agency and roles
//     claims have configurable names (ClaimNames).
//   - Authorization: Basic, what Confluent serializers send with
//     basic.auth.user.info (Method "basic"): users from a file of
//     user:<bcrypt or argon2id hash> lines (htpasswd -B writes them); a user
//     is the agency of the same id, with roles publisher and consumer.
//   - A TLS client certificate verified against http.tls.client_ca by the
//     TLS handshake (Method "mtls"): its subject CN or a DNS/URI SAN names
//     the agency, through a mapping or as the agency id itself.
//
// Wiring: build an Authenticator with New and the With* options, and give
// it to the HTTP server (server.Server.SetAuthenticator), which runs
// Authenticate in front of every route but its public ones. Handlers read
// the principal with FromContext. Authorization (which principal may do
// what) builds on Principal and is not decided here: an authenticated
// request passes.
//
//	v, err := auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: iss, Audience: "exchange"})
//	a, err := auth.New(auth.WithOIDC(v), auth.WithBasicUsers(users))
//	p, err := a.Authenticate(r) // *Principal, or an *Error (401/403)
package auth
