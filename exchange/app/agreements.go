package app

import (
	"net/http"

	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// mountAgreements mounts the agreements API (issue 13). The server's
// authentication answers 401 before it; an agency not in agencies.yaml is
// refused as everywhere else; stewardship decides the rest.
func (a *App) mountAgreements() {
	actorOf := func(r *http.Request) (stewardship.Actor, error) {
		p, ok, err := a.authz.principal(r)
		if err != nil {
			return stewardship.Actor{}, err
		}
		return stewardship.ActorOf(p, ok), nil
	}
	for pattern, h := range a.steward.Routes(actorOf) {
		a.http.Handle(pattern, h)
	}
}

// Stewardship is the agreement lifecycle service.
func (a *App) Stewardship() *stewardship.Service { return a.steward }
