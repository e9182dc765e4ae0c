package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable holding a superuser PostgreSQL URL for tests.
const PostgresEnv = "EXCHANGE_TEST_DATABASE_URL"

// PostgresURL returns the test server's superuser URL. Without one the test
// is skipped under -short and fails otherwise: PostgreSQL tests must never
// pass silently.
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PostgresEnv)
	if u != "" {
		return u
	}
	if testing.Short() {
		t.Skipf("%s is not set (-short): skipping PostgreSQL tests", PostgresEnv)
	}
	t.Fatalf("%s is not set: run the PostgreSQL tests via `make test` (which starts a server), "+
		"or start one (deploy/local/postgres.sh start) and export %s=<superuser URL>; use -short to skip them", PostgresEnv, PostgresEnv)
	return ""
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CreateDatabase creates a fresh database on the server at superURL and
// returns its URL; it is dropped when t ends.
func CreateDatabase(t testing.TB, superURL string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		t.Fatalf("connecting to %s: %v", PostgresEnv, err)
	}
	defer conn.Close(ctx)
	name := RandomName("exchange_test_")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, superURL)
		if err != nil {
			t.Errorf("dropping database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(superURL)
	if err != nil {
		t.Fatalf("parsing %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// WithUser returns rawURL with its user and password replaced.
func WithUser(t testing.TB, rawURL, user, password string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}
