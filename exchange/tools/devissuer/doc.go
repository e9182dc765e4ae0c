// Package devissuer is exchange dev's own OIDC-style token issuer and the
// bearer tokens it hands out (IDENTITY.md "Dev mode credentials"): an
// Ed25519 key in the data directory (issuer.key) signs JWTs (EdDSA,
// audience "exchange", iss = the dev server's URL, valid a year), its JWKS
// is served at /.well-known/jwks.json, and a token file is written under
// <data-dir>/credentials/ for every agency, every steward of
// agencies.yaml, an auditor and an operator:
//
//	credentials/agencies/<agency>.token    roles publisher, consumer
//	credentials/stewards/<steward>.token   sub = steward, agency claim, role steward
//	credentials/auditor.token              role auditor
//	credentials/operator.token             role operator
//
// Token files are kept across restarts while they still verify and say the
// same; they are written anew when the key, the URL or agencies.yaml
// changes, or a month before they expire.
//
// The dev exchange also accepts each agency's registry secret over HTTP
// Basic (basic.auth.user.info=<agency>:<secret>, what Confluent
// serializers send); the caller derives the secrets (the same as the dev
// Kafka credentials'), the authenticator keeps only their hashes
// (Issuer.BasicUsers).
//
// Production issues none of these: it trusts the configured OIDC issuer.
package devissuer
