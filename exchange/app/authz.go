// Authorization of the HTTP surface (IDENTITY.md "HTTP"): who may write
// which registry subject, and what of the audit API each principal sees.
// The rights come from the plan in force and the agencies of its
// documents, so a reload changes them with the plan.

package app

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// authorizer answers the HTTP surface's authorization questions from the
// plan in force and the agencies of agencies.yaml.
type authorizer struct {
	plan     func() *policy.Plan
	agencies atomic.Pointer[map[string]bool] // ids of agencies.yaml, set at each build

	// list holds the agencies themselves, with their stewards (the catalog's
	// steward checks).
	list atomic.Pointer[[]agreements.Agency]
}

// setAgencies records the agencies of the documents the plan was built from.
func (z *authorizer) setAgencies(set *agreements.Set) {
	m := map[string]bool{}
	if set != nil {
		for _, a := range set.Agencies {
			m[a.ID] = true
		}
	}
	z.agencies.Store(&m)
	var list []agreements.Agency
	if set != nil {
		list = append(list, set.Agencies...)
	}
	z.list.Store(&list)
}

// agencyList is the agencies of the documents the plan was built from.
func (z *authorizer) agencyList() []agreements.Agency {
	if l := z.list.Load(); l != nil {
		return *l
	}
	return nil
}

// principal is the request's principal; ok is false on a server without
// authentication (--insecure), where every request is served. An agency
// not in agencies.yaml is refused.
func (z *authorizer) principal(r *http.Request) (p *auth.Principal, ok bool, err error) {
	p, ok = auth.FromContext(r.Context())
	if !ok {
		return nil, false, nil
	}
	if p.Agency != "" {
		if m := z.agencies.Load(); m == nil || !(*m)[p.Agency] {
			return p, true, auth.Forbidden("agency", fmt.Sprintf("agency %q is not in agencies.yaml", p.Agency))
		}
	}
	return p, true, nil
}

// registry decides a registry request: any principal reads; a publisher
// registers under its own datasets' ingress subjects; every other write
// (deliver.* and other subjects, compatibility config, deletes) is the
// operator's. The exchange registers derived schemas in-process.
func (z *authorizer) registry(r *http.Request, op registryhttp.Op, subject string) error {
	p, ok, err := z.principal(r)
	if !ok || err != nil {
		return err
	}
	if op == registryhttp.OpRead || p.HasRole(auth.RoleOperator) {
		return nil
	}
	switch op {
	case registryhttp.OpConfig:
		return auth.Forbidden(auth.RoleOperator, "changing compatibility config needs role operator")
	case registryhttp.OpDelete:
		return auth.Forbidden(auth.RoleOperator, "deleting from the registry needs role operator")
	}
	if p.Kind != auth.KindAgency || !p.HasRole(auth.RolePublisher) {
		return auth.Forbidden(auth.RolePublisher, fmt.Sprintf("registering under %s needs the role publisher of the agency owning its dataset (or role operator); %s holds neither", subject, p))
	}
	if owner, ok := z.ingressOwner(subject); !ok || owner != p.Agency {
		return auth.Forbidden(auth.RolePublisher, fmt.Sprintf("publisher of %s may register under %s only", p.Agency, z.ownSubjects(p.Agency)))
	}
	return nil
}

// publisher decides a request to act as a publisher of owner's dataset
// (auth.PublisherOf, HTTP ingest's rule); what says what was asked. On a
// server without authentication (--insecure) every request is served.
func (z *authorizer) publisher(r *http.Request, owner, what string) error {
	p, ok, err := z.principal(r)
	if !ok || err != nil {
		return err
	}
	if e := auth.PublisherOf(p, owner, what); e != nil {
		return e
	}
	return nil
}

// ingressOwner is the owner agency of the dataset whose ingress subject is
// subject; ok is false when subject is no dataset's ingress subject (a
// deliver.* subject, or a dataset the plan does not know).
func (z *authorizer) ingressOwner(subject string) (owner string, ok bool) {
	plan := z.plan()
	for _, d := range plan.Datasets() {
		if names.IngressSubject(d) == subject {
			c, ok := plan.Contract(d)
			if !ok {
				return "", false
			}
			return c.Owner, true
		}
	}
	return "", false
}

// ownSubjects lists the ingress subjects agency may register under.
func (z *authorizer) ownSubjects(agency string) string {
	plan := z.plan()
	var out string
	for _, d := range plan.Datasets() {
		if c, ok := plan.Contract(d); ok && c.Owner == agency {
			if out != "" {
				out += ", "
			}
			out += names.IngressSubject(d)
		}
	}
	if out == "" {
		return "none (it owns no dataset)"
	}
	return out
}

// auditScope is what a request may see of the audit API: auditors and
// operators (who run the exchange and answer for it) see all; an agency
// system or a steward sees the entries of its agency's datasets and of
// the agreements its agency consumes or provides. Only auditors may query
// by data subject.
func (z *authorizer) auditScope(r *http.Request) (auditapi.Scope, error) {
	p, ok, err := z.principal(r)
	if err != nil {
		return auditapi.Scope{}, err
	}
	if !ok {
		return auditapi.Scope{All: true, SubjectQueries: true, Who: "anonymous (no authentication)"}, nil
	}
	s := auditapi.Scope{Who: p.String(), Agency: p.Agency, SubjectQueries: p.HasRole(auth.RoleAuditor)}
	if p.HasRole(auth.RoleAuditor) || p.HasRole(auth.RoleOperator) {
		s.All = true
		return s, nil
	}
	s.Datasets, s.Agreements = map[string]bool{}, map[string]bool{}
	plan := z.plan()
	for _, d := range plan.Datasets() {
		c, ok := plan.Contract(d)
		owner := ok && c.Owner == p.Agency
		if owner {
			s.Datasets[d] = true
		}
		for _, ag := range plan.Agreements(d) {
			if owner || ag.Consumer == p.Agency {
				s.Agreements[ag.ID] = true
			}
		}
	}
	return s, nil
}

// accessLog records data-subject queries in the store.
func accessLog(db store.AccessLog) auditapi.AccessLog {
	return func(ctx context.Context, a auditapi.Access) error {
		return db.RecordAccess(ctx, store.Access{Who: a.Who, At: a.At, Purpose: a.Purpose, Query: a.Query})
	}
}
