package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// mountCatalog mounts the catalog and access requests (issue 13). An
// accepted request's agreement is proposed through the lifecycle service,
// as the accepting steward.
func (a *App) mountCatalog() {
	a.catalog = catalogapi.New(catalogapi.Config{
		Plan: a.holder.Load, Agencies: a.authz.agencyList, Schemas: a.reg,
		Requests: a.db, Documents: a.db, Proposer: stewardProposer{a.steward},
		Notify: a.notifier.Send, Log: a.log.With("component", "catalog"),
	})
	a.catalog.Mount(a.http)
}

// stewardProposer proposes through stewardship.Service.Propose: the
// proposal is recorded, validated and announced like one made through
// POST /api/v1/agreements.
type stewardProposer struct{ s *stewardship.Service }

// Propose proposes a's terms (its status is the lifecycle's, not text).
func (p stewardProposer) Propose(ctx context.Context, by auth.Principal, a *agreements.Agreement) (string, error) {
	terms := *a
	terms.Status = ""
	y, err := agreements.MarshalAgreement(&terms, "Proposed from an access request of the catalog by "+by.String())
	if err != nil {
		return "", err
	}
	v, err := p.s.Propose(ctx, stewardship.ActorOf(&by, true), y)
	switch {
	case errors.Is(err, stewardship.ErrForbidden):
		return "", auth.Forbidden("role", err.Error())
	case errors.Is(err, stewardship.ErrInvalid), errors.Is(err, agreements.ErrTransition):
		return "", fmt.Errorf("%w: %w", catalogapi.ErrProposal, err)
	case err != nil:
		return "", err
	}
	return v.ID, nil
}
