package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/config"
	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// errNoHTTPAuth is why serve refuses a configuration without HTTP authentication.
var errNoHTTPAuth = errors.New("http: no authentication configured (auth.oidc.issuer, auth.basic.users_file or http.tls.client_ca): " +
	"anyone reaching the HTTP port could register schemas and read the audit ledger; " +
	"configure one, or pass --insecure to run anyway (experiments only)")

// httpSecurity builds the HTTP surface's security of exchange.yaml: the
// authenticator (OIDC discovery runs now, bounded by ctx), TLS, the
// metrics token and listener. Without authentication it is an error, or
// with insecure an open surface that /readyz reports.
func httpSecurity(ctx context.Context, cfg config.Config, insecure bool, log *slog.Logger) (app.HTTPSecurity, error) {
	var sec app.HTTPSecurity
	if !cfg.Authenticated() {
		if !insecure {
			return sec, errNoHTTPAuth
		}
		sec.Insecure = true
		log.Warn(app.HTTPInsecureWarning)
	} else {
		a, err := authenticator(ctx, cfg, log)
		if err != nil {
			return sec, err
		}
		sec.Auth = a
	}
	if cfg.HTTP.TLS.Enabled() {
		t, err := server.TLSConfig(server.TLSFiles{CertFile: cfg.HTTP.TLS.CertFile, KeyFile: cfg.HTTP.TLS.KeyFile, ClientCA: cfg.HTTP.TLS.ClientCA})
		if err != nil {
			return sec, err
		}
		sec.TLS = t
	} else if sec.Auth != nil {
		log.Warn("http.tls is not configured: bearer tokens and Basic passwords cross the network in clear; terminate TLS in front of the exchange or set http.tls")
	}
	if f := cfg.HTTP.MetricsTokenFile; f != "" {
		tok, err := os.ReadFile(f)
		if err != nil {
			return sec, fmt.Errorf("http.metrics_token_file: %w", err)
		}
		if sec.MetricsToken = strings.TrimSpace(string(tok)); len(sec.MetricsToken) < 16 {
			return sec, fmt.Errorf("http.metrics_token_file %s: the token must be at least 16 characters", f)
		}
	}
	return sec, nil
}

// authenticator is the configured OIDC issuer, Basic users and client
// certificate mapping, each when configured.
func authenticator(ctx context.Context, cfg config.Config, log *slog.Logger) (*auth.Authenticator, error) {
	opts := []auth.Option{auth.WithLogger(log)}
	if o := cfg.Auth.OIDC; o.Issuer != "" {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := auth.NewOIDC(dctx, auth.OIDCConfig{Issuer: o.Issuer, Audience: o.Audience, JWKSURL: o.JWKSURL,
			Claims: o.Claims, Algorithms: o.Algorithms, ClockSkew: o.ClockSkew})
		if err != nil {
			return nil, fmt.Errorf("auth.oidc: %w", err)
		}
		opts = append(opts, auth.WithOIDC(v))
	}
	if f := cfg.Auth.Basic.UsersFile; f != "" {
		users, err := auth.LoadBasicUsers(f)
		if err != nil {
			return nil, fmt.Errorf("auth.basic.users_file: %w", err)
		}
		opts = append(opts, auth.WithBasicUsers(users))
	}
	if cfg.HTTP.TLS.ClientCA != "" {
		byCN := cfg.Auth.MTLS.CNIsAgency == nil || *cfg.Auth.MTLS.CNIsAgency
		opts = append(opts, auth.WithClientCerts(auth.CertMapping{Names: cfg.Auth.MTLS.Agencies, AgenciesByCN: byCN}))
	}
	return auth.New(opts...)
}

// consoleSignin is the console's OIDC sign-in of auth.oidc, when
// console_client_id is set (the secret is read from its file).
func consoleSignin(cfg config.Config) (app.ConsoleConfig, error) {
	o := cfg.Auth.OIDC
	if o.ConsoleClientID == "" {
		return app.ConsoleConfig{}, nil
	}
	login := &console.OIDCLogin{Issuer: o.Issuer, ClientID: o.ConsoleClientID, RedirectURL: o.ConsoleRedirectURL}
	if f := o.ConsoleClientSecretFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return app.ConsoleConfig{}, fmt.Errorf("auth.oidc.console_client_secret_file: %w", err)
		}
		login.ClientSecret = strings.TrimSpace(string(b))
	}
	return app.ConsoleConfig{OIDC: login}, nil
}
