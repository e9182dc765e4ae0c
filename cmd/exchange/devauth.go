package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// devCredentialsDir is where exchange dev writes its credentials, under
// its data directory; clients (publish, consume, agreement validate) use
// them by default when they find it in the current directory's default
// data directory.
func devCredentialsDir(dataDir string) string {
	return filepath.Join(dataDir, devissuer.CredentialsDir)
}

// devRegistrySecret is agency's registry secret in dev mode, what its
// properties file's basic.auth.user.info carries: the agency's dev Kafka
// password, the same derivation as devcreds.Password(keys.DevSecret,
// agency) of the dev Kafka credentials.
func devRegistrySecret(keys *app.Keys, agency string) string {
	return devcreds.Password(keys.DevSecret, agency)
}

// devHTTPSecurity makes exchange dev its own token issuer: the issuer key
// in dataDir signs the tokens written under <dataDir>/credentials/ for
// the agencies and stewards of the contracts directory, an auditor and an
// operator; the HTTP surface accepts them, and the agencies' registry
// registry secrets over Basic (devRegistrySecret), and serves the issuer's JWKS without credentials.
// base is the server's URL, the tokens' iss.
func devHTTPSecurity(ctx context.Context, dataDir, contracts, base string, log *slog.Logger) (app.HTTPSecurity, error) {
	var sec app.HTTPSecurity
	issuer, err := devissuer.Load(dataDir, base)
	if err != nil {
		return sec, err
	}
	// Contracts with problems still name their agencies; app.New reports
	// the problems themselves.
	set, _ := agreements.LoadDir(contracts)
	var agencies []agreements.Agency
	if set != nil {
		agencies = set.Agencies
	}
	ids := make([]string, len(agencies))
	for i, a := range agencies {
		ids[i] = a.ID
	}
	keys, err := app.LoadOrCreateKeys(filepath.Join(dataDir, devSecretKeyName), true)
	if err != nil {
		return sec, err
	}
	secret := func(agency string) string { return devRegistrySecret(keys, agency) }
	if sec.Auth, err = issuer.Authenticator(ctx, ids, secret, log); err != nil {
		return sec, err
	}
	jwks, err := issuer.JWKSHandler()
	if err != nil {
		return sec, err
	}
	sec.Public = []app.PublicRoute{{Path: devissuer.JWKSPath, Handler: jwks}}
	written, err := issuer.WriteTokens(ctx, devCredentialsDir(dataDir), agencies, time.Now())
	if err != nil {
		return sec, fmt.Errorf("dev credentials: %w", err)
	}
	if len(written) > 0 {
		log.Info("dev credentials written", "dir", devCredentialsDir(dataDir), "tokens", len(written))
	}
	return sec, nil
}
