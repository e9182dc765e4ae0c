package auth_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/exchange-gov/exchange/exchange/server/auth"
)

// FuzzAuthenticate: whatever Authorization header arrives, the middleware
// answers 401 or 403 without panicking and without echoing the credential,
// or passes a request with a principal; seeded with valid, forged and
// malformed bearer and Basic credentials.
func FuzzAuthenticate(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	good := sign(f, jose.EdDSA, key, "k", validClaims(time.Now()))
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users, _ := auth.NewBasicUsers(map[string]string{"health": string(bc)})
	v, err := auth.NewOIDC(f.Context(), auth.OIDCConfig{Issuer: testIssuer, Audience: testAudience, Keys: []crypto.PublicKey{pub}})
	if err != nil {
		f.Fatal(err)
	}
	a, _ := auth.New(auth.WithOIDC(v), auth.WithBasicUsers(users))
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); !ok {
			w.WriteHeader(500)
		}
	}), nil, nil)
	for _, seed := range []string{"", "Bearer " + good, "Bearer " + good[:len(good)-4] + "AAAA", "Basic aGVhbHRoOnB3", "Basic aGVhbHRoOnd4",
		"Basic !!!", "Bearer", "bearer " + good, "Digest x", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.e30.", "Bearer" + good} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, authz string) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/audit", nil)
		req.Header["Authorization"] = []string{authz}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
		case 401, 403:
			scheme, cred, _ := strings.Cut(strings.TrimSpace(authz), " ")
			for _, c := range []string{strings.TrimSpace(cred), scheme} {
				if len(c) >= 17 && strings.Contains(rec.Body.String(), c[:17]) {
					t.Fatalf("the answer echoes the credential: %s", rec.Body)
				}
			}
		default:
			t.Fatalf("status %d for %q", rec.Code, authz)
		}
	})
}
