package app

import (
	"context"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/policy"
)

// ConsoleConfig is how the governance console (package console) signs
// people in.
type ConsoleConfig struct {
	// DevTokens lists the identities the dev sign-in page offers
	// (exchange dev: devissuer.ConsoleTokens). Nil (serve): no dev sign-in.
	DevTokens func() ([]console.DevToken, error)
	// PlainHTTPCookies drops Secure from the session cookies: only for
	// exchange dev on plain HTTP at 127.0.0.1, where a browser would not
	// send Secure cookies back. Default false: Secure.
	PlainHTTPCookies bool
	// OIDC, when set, signs people in at the configured issuer
	// (authorization code with PKCE); its tokens go through HTTP.Auth.
	OIDC *console.OIDCLogin
}

// mountConsole serves the console at /console/. It authenticates by its
// own session cookie, so the server lets its paths through without an
// Authorization header; it reads through api (the audit API's scope and
// access log) and signs in with the HTTP API's authenticator.
func (a *App) mountConsole(ctx context.Context, api *auditapi.Handler) error {
	subjectKey := a.keys.SubjectKey()
	// The console reads quarantined records (a provider steward's audited
	// view) as the exchange: only its principal may read quarantine topics.
	kc, err := kafkaclient.New(a.cfg.Kafka.Config)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	a.consoleKafka = kc
	c, err := console.New(ctx, console.Config{
		Store: a.db, Audit: api, Scope: a.authz.auditScope, Stewardship: a.steward, Catalog: a.catalog, Agencies: a.steward.Agencies,
		Authenticator: a.cfg.HTTP.Auth, SessionKey: a.keys.ConsoleSessionKey(), SecureCookies: !a.cfg.Console.PlainHTTPCookies,
		DevTokens: a.cfg.Console.DevTokens, OIDC: a.cfg.Console.OIDC,
		SubjectHash:   func(id string) []byte { return policy.SubjectHash(subjectKey, id) },
		CheckpointKey: a.checkpointKey, Logger: a.log.With("component", "console"),
		Quarantine: console.NewKafkaQuarantine(kc), Registry: a.reg,
	})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	a.http.Handle(console.Prefix, c)
	a.http.PublicPrefix(console.Prefix)
	return nil
}

// closeConsole releases the console's Kafka clients.
func (a *App) closeConsole() {
	if a.consoleKafka != nil {
		a.consoleKafka.Close()
	}
}
