package auth

import (
	"context"
	"fmt"
	"slices"
)

// Kind is what a principal is (IDENTITY.md "Principals").
type Kind string

// The kinds of principals.
const (
	// KindAgency is the software of one agency (agencies.yaml id).
	KindAgency Kind = "agency"
	// KindSteward is a named person of one agency (stewards: in agencies.yaml).
	KindSteward Kind = "steward"
	// KindAuditor is a governance committee member or data protection officer.
	KindAuditor Kind = "auditor"
	// KindOperator runs the exchange.
	KindOperator Kind = "operator"
	// KindExchange is the runtime itself, acting in-process; no HTTP
	// credential authenticates as it.
	KindExchange Kind = "exchange"
)

// The roles a principal may hold; a token lists them in its roles claim.
const (
	RolePublisher = "publisher"
	RoleConsumer  = "consumer"
	RoleSteward   = "steward"
	RoleAuditor   = "auditor"
	RoleOperator  = "operator"
)

// Roles are every role the exchange knows, in order of precedence: the
// first one a token holds decides its Kind (see KindOf).
var Roles = []string{RoleOperator, RoleAuditor, RoleSteward, RolePublisher, RoleConsumer}

// Method is how a principal authenticated.
type Method string

// The authentication methods.
const (
	MethodOIDC  Method = "oidc"  // Authorization: Bearer <JWT>
	MethodBasic Method = "basic" // Authorization: Basic (Confluent serializers)
	MethodMTLS  Method = "mtls"  // TLS client certificate
)

// Principal is who made a request, as authenticated. It is immutable once
// in a context.
type Principal struct {
	Kind Kind
	// Subject is the token's sub (a steward's name), the Basic user, or
	// the certificate name that matched; for an agency system without a
	// sub, the agency id.
	Subject string
	// Agency is the agencies.yaml id the principal acts for; empty for an
	// auditor or operator whose token names none.
	Agency string
	// Roles the principal holds (Role* constants; unknown roles dropped),
	// sorted in the order of Roles.
	Roles  []string
	Method Method
}

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool { return p != nil && slices.Contains(p.Roles, role) }

// String describes the principal for logs and messages, never a secret:
// "agency health (health, oidc)", "steward amara.okafor of health (oidc)".
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	switch {
	case p.Kind == KindSteward || (p.Agency != "" && p.Kind != KindAgency):
		return fmt.Sprintf("%s %s of %s (%s)", p.Kind, p.Subject, p.Agency, p.Method)
	case p.Kind == KindAgency:
		return fmt.Sprintf("agency %s (%s, %s)", p.Agency, p.Subject, p.Method)
	default:
		return fmt.Sprintf("%s %s (%s)", p.Kind, p.Subject, p.Method)
	}
}

// KindOf is the kind a set of roles makes: operator, auditor, steward,
// then agency (publisher or consumer), the first that roles holds; ok is
// false when roles holds none of them.
func KindOf(roles []string) (kind Kind, ok bool) {
	switch {
	case slices.Contains(roles, RoleOperator):
		return KindOperator, true
	case slices.Contains(roles, RoleAuditor):
		return KindAuditor, true
	case slices.Contains(roles, RoleSteward):
		return KindSteward, true
	case slices.Contains(roles, RolePublisher), slices.Contains(roles, RoleConsumer):
		return KindAgency, true
	}
	return "", false
}

// knownRoles keeps the roles the exchange knows, in the order of Roles,
// without duplicates.
func knownRoles(roles []string) []string {
	var out []string
	for _, r := range Roles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

// NewPrincipal builds the principal of an authenticated subject from its
// agency and roles, checking what its kind requires: an agency system and
// a steward need an agency, a steward a subject. The error is an *Error
// with status 403: the credentials were good, the identity is not usable.
func NewPrincipal(method Method, subject, agency string, roles []string) (*Principal, error) {
	roles = knownRoles(roles)
	kind, ok := KindOf(roles)
	if !ok {
		return nil, Forbidden("role", "the credentials hold no role the exchange knows (publisher, consumer, steward, auditor, operator)")
	}
	if (kind == KindAgency || kind == KindSteward) && agency == "" {
		return nil, Forbidden("agency", fmt.Sprintf("a %s needs an agency, and the credentials name none", kind))
	}
	if kind == KindSteward && subject == "" {
		return nil, Forbidden("subject", "a steward's token needs sub = the steward's name")
	}
	if subject == "" {
		subject = agency
	}
	return &Principal{Kind: kind, Subject: subject, Agency: agency, Roles: roles, Method: method}, nil
}

// AgencyPrincipal is an agency system with roles publisher and consumer:
// what a Basic user or a client certificate authenticates as.
func AgencyPrincipal(method Method, subject, agency string) *Principal {
	return &Principal{Kind: KindAgency, Subject: subject, Agency: agency, Roles: []string{RolePublisher, RoleConsumer}, Method: method}
}

type ctxKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext is the principal of a request's context; ok is false when
// the request was not authenticated (a public path, or a server run
// without authentication with --insecure).
func FromContext(ctx context.Context) (p *Principal, ok bool) {
	p, ok = ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// PublisherOf allows an agency system with role publisher of owner, the
// agency owning a dataset, and refuses anyone else with a 403 naming the
// missing right. It is the one rule for publishing through the exchange's
// HTTP API (HTTP ingest, the lookup of a resumed import); what says what
// was asked ("posting records of health.visits").
func PublisherOf(p *Principal, owner, what string) *Error {
	if p == nil || p.Kind != KindAgency || !p.HasRole(RolePublisher) {
		return Forbidden("role", fmt.Sprintf("%s needs the role publisher of agency %s; %s holds neither", what, owner, p))
	}
	if p.Agency != owner {
		return Forbidden("agency", fmt.Sprintf("%s needs a publisher of its owner %s; %s publishes for %s", what, owner, p, p.Agency))
	}
	return nil
}
