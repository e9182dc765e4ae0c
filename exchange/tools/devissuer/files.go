package devissuer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// CredentialsDir is the credentials directory under exchange dev's data
// directory, shared with the dev Kafka credentials.
const CredentialsDir = "credentials"

// The token files under CredentialsDir.
const (
	AgenciesDir  = "agencies"
	StewardsDir  = "stewards"
	AuditorFile  = "auditor.token"
	OperatorFile = "operator.token"
	TokenExt     = ".token"
)

// renewBefore is how long before expiry a kept token is written anew.
const renewBefore = 30 * 24 * time.Hour

// AgencyToken is the token file of agency under the credentials dir.
func AgencyToken(credDir, agency string) string {
	return filepath.Join(credDir, AgenciesDir, agency+TokenExt)
}

// StewardToken is the token file of steward under the credentials dir.
func StewardToken(credDir, steward string) string {
	return filepath.Join(credDir, StewardsDir, steward+TokenExt)
}

// Wanted are the tokens exchange dev hands out for agencies: file (under
// the credentials dir) → claims.
func Wanted(agencies []agreements.Agency) map[string]Claims {
	w := map[string]Claims{
		AuditorFile:  {Subject: "auditor", Roles: []string{auth.RoleAuditor}},
		OperatorFile: {Subject: "operator", Roles: []string{auth.RoleOperator}},
	}
	for _, a := range agencies {
		w[filepath.Join(AgenciesDir, a.ID+TokenExt)] = Claims{Subject: a.ID, Agency: a.ID, Roles: []string{auth.RolePublisher, auth.RoleConsumer}}
		for _, s := range a.Stewards {
			w[filepath.Join(StewardsDir, s+TokenExt)] = Claims{Subject: s, Agency: a.ID, Roles: []string{auth.RoleSteward}}
		}
	}
	return w
}

// WriteTokens writes the token files of agencies under credDir (dirs 0700,
// files 0600). A file that still verifies, says the same and is not near
// expiry is kept, so the tokens are stable across restarts; steward token
// files of stewards no longer in agencies.yaml are removed. It returns the
// files written anew.
func (i *Issuer) WriteTokens(ctx context.Context, credDir string, agencies []agreements.Agency, now time.Time) ([]string, error) {
	v, err := i.OIDC(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{credDir, filepath.Join(credDir, AgenciesDir), filepath.Join(credDir, StewardsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("credentials dir: %w", err)
		}
	}
	wanted := Wanted(agencies)
	var written []string
	for name, c := range wanted {
		path := filepath.Join(credDir, name)
		if i.current(ctx, v, path, c, now) {
			continue
		}
		tok, err := i.Token(c, now)
		if err != nil {
			return nil, err
		}
		if err := writeFile(path, tok+"\n"); err != nil {
			return nil, err
		}
		written = append(written, name)
	}
	slices.Sort(written)
	return written, removeStale(credDir, wanted)
}

// current reports whether path holds a token of this issuer with claims c
// that stays valid past renewBefore.
func (i *Issuer) current(ctx context.Context, v *auth.OIDC, path string, c Claims, now time.Time) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	p, err := v.Verify(ctx, strings.TrimSpace(string(raw)))
	if err != nil || p.Subject != c.Subject || p.Agency != c.Agency || !slices.Equal(p.Roles, c.Roles) {
		return false
	}
	// Verified above; read its expiry.
	tok, err := jwt.ParseSigned(strings.TrimSpace(string(raw)), []jose.SignatureAlgorithm{jose.EdDSA})
	var std jwt.Claims
	if err != nil || tok.UnsafeClaimsWithoutVerification(&std) != nil || std.Expiry == nil {
		return false
	}
	return std.Expiry.Time().Sub(now) > renewBefore
}

// removeStale removes steward token files not wanted any more.
func removeStale(credDir string, wanted map[string]Claims) error {
	entries, err := os.ReadDir(filepath.Join(credDir, StewardsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("credentials dir: %w", err)
	}
	for _, e := range entries {
		name := filepath.Join(StewardsDir, e.Name())
		if _, ok := wanted[name]; !ok && strings.HasSuffix(e.Name(), TokenExt) {
			if err := os.Remove(filepath.Join(credDir, name)); err != nil {
				return fmt.Errorf("removing a stale token: %w", err)
			}
		}
	}
	return nil
}

// writeFile replaces path with data (mode 0600) through a temporary file,
// so a reader never sees half a token.
func writeFile(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ConsoleTokens lists the tokens under credDir for the console's dev
// sign-in page: the auditor's, the operator's, then each steward's and
// each agency system's, named by their path under credDir.
func ConsoleTokens(credDir string) func() ([]console.DevToken, error) {
	return func() ([]console.DevToken, error) {
		names := []string{AuditorFile, OperatorFile}
		for _, sub := range []string{StewardsDir, AgenciesDir} {
			m, err := filepath.Glob(filepath.Join(credDir, sub, "*"+TokenExt))
			if err != nil {
				return nil, err
			}
			slices.Sort(m)
			for _, f := range m {
				names = append(names, filepath.Join(sub, filepath.Base(f)))
			}
		}
		var out []console.DevToken
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(credDir, n))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("dev token %s: %w", n, err)
			}
			out = append(out, console.DevToken{Name: filepath.ToSlash(n), Token: strings.TrimSpace(string(b))})
		}
		return out, nil
	}
}
