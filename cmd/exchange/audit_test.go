package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// auditFixture is a store with two chains of signed entries and the files
// the audit commands read.
type auditFixture struct {
	url, pubFile string
	tamper       func(t *testing.T, stmt string, args ...any)
}

// topicIs is the SQL condition "the entry's topic is $1": both stores keep
// topics on ledger_chains, entries refer to their chain by id.
const topicIs = "chain IN (SELECT id FROM ledger_chains WHERE topic = $1)"

func sqliteFixture(t *testing.T) auditFixture {
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "exchange.db")
	f := auditFixture{url: url, pubFile: filepath.Join(dir, "ledger.key.pub")}
	writeFixture(t, f, filepath.Join(dir, "ledger.key"))
	f.tamper = func(t *testing.T, stmt string, args ...any) {
		// Whoever can write the file can drop the append-only triggers.
		db, err := store.Open(context.Background(), url, store.WithoutMigrate())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		w := db.(interface{ Writer() *sql.DB }).Writer()
		for _, tr := range []string{"ledger_entries_no_update", "ledger_entries_no_delete", "ledger_checkpoints_no_update", "ledger_checkpoints_no_delete"} {
			if _, err := w.Exec("DROP TRIGGER IF EXISTS " + tr); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Exec(stmt, args...); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func postgresFixture(t *testing.T) auditFixture {
	dir := t.TempDir()
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	f := auditFixture{url: url, pubFile: filepath.Join(dir, "ledger.key.pub")}
	writeFixture(t, f, filepath.Join(dir, "ledger.key"))
	f.tamper = func(t *testing.T, stmt string, args ...any) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url) // the superuser, not the runtime role
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, stmt, args...); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func writeFixture(t *testing.T, f auditFixture, keyFile string) {
	t.Helper()
	key, err := ledger.LoadOrCreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runMigrate(ctx, &out, &out, []string{"--database", f.url}); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	db, err := store.Open(ctx, f.url, store.WithSigningKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, batch := range [][]ledger.Entry{
		storetest.Entries("ingress.health.immunisations", 3, 1000, 1010),
		storetest.Entries("ingress.health.immunisations", 3, 1010, 1020),
		storetest.Entries("ingress.tax.returns", 0, 0, 5),
	} {
		if err := db.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
}

func runCmd(t *testing.T, fn func(context.Context, *bytes.Buffer, *bytes.Buffer, []string) error, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := fn(ctx, &stdout, &stderr, args)
	code := 0
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String(), code
}

// recordedVerifications reads the newest recorded verification of each
// chain of f's store.
func recordedVerifications(t *testing.T, f auditFixture) []store.ChainVerification {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, f.url, store.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.LatestVerifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func verifyCmd(ctx context.Context, o, e *bytes.Buffer, a []string) error {
	return auditVerify(ctx, o, e, a)
}
func exportCmd(ctx context.Context, o, e *bytes.Buffer, a []string) error {
	return auditExport(ctx, o, e, a)
}
func queryCmd(ctx context.Context, o, e *bytes.Buffer, a []string) error {
	return auditQuery(ctx, o, e, a)
}

func testAuditCommands(t *testing.T, newFixture func(t *testing.T) auditFixture) {
	t.Run("Intact", func(t *testing.T) {
		f := newFixture(t)
		out, code := runCmd(t, verifyCmd, "--database", f.url, "--public-key", f.pubFile)
		if code != 0 || !strings.HasPrefix(out, "ok: 2 chains, 25 entries, 3 checkpoints intact") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		got := recordedVerifications(t, f)
		if len(got) != 2 || !got[0].OK || !got[1].OK || got[0].Entries != 20 || got[1].Entries != 5 || !strings.HasPrefix(got[0].By, "cli") {
			t.Fatalf("recorded verifications %s, want both chains intact (20 and 5 entries) by cli", describe(got))
		}
	})
	t.Run("EditedRow", func(t *testing.T) {
		f := newFixture(t)
		f.tamper(t, `UPDATE ledger_entries SET decision = 'delivered' WHERE `+topicIs+` AND "offset" = $2`, "ingress.health.immunisations", int64(1006))
		out, code := runCmd(t, verifyCmd, "--database", f.url, "--public-key", f.pubFile)
		want := "BROKEN: entry ingress.health.immunisations/3 offset 1006 (seq 7): content altered"
		if code != 1 || !strings.HasPrefix(out, want) || strings.Count(out, "BROKEN") != 1 {
			t.Fatalf("exit %d, want 1 and exactly %q:\n%s", code, want, out)
		}
		if got := recordedVerifications(t, f); len(got) != 2 || got[0].OK || !strings.HasPrefix("BROKEN: "+got[0].FirstBreak, want) || !got[1].OK {
			t.Fatalf("recorded verifications %s, want the first chain broken at offset 1006", describe(got))
		}
	})
	t.Run("DeletedRow", func(t *testing.T) {
		f := newFixture(t)
		f.tamper(t, `DELETE FROM ledger_entries WHERE `+topicIs+` AND "offset" = $2`, "ingress.health.immunisations", int64(1012))
		out, code := runCmd(t, verifyCmd, "--database", f.url, "--public-key", f.pubFile)
		want := "BROKEN: chain ingress.health.immunisations/3 seq 13: entry missing (between offset 1011 and offset 1013)"
		if code != 1 || !strings.HasPrefix(out, want) || strings.Count(out, "BROKEN") != 1 {
			t.Fatalf("exit %d, want 1 and exactly %q:\n%s", code, want, out)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		f := newFixture(t)
		other := filepath.Join(t.TempDir(), "other.pub")
		_, priv, _ := ed25519.GenerateKey(nil)
		if err := ledger.WritePublicKey(other, priv.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		if out, code := runCmd(t, verifyCmd, "--database", f.url, "--public-key", other); code != 1 {
			t.Fatalf("verify with another key: exit %d\n%s", code, out)
		}
	})
	t.Run("ExportThenRewrite", func(t *testing.T) {
		f := newFixture(t)
		cps := filepath.Join(t.TempDir(), "checkpoints.jsonl")
		if _, code := runCmd(t, exportCmd, "--database", f.url, "--out", cps); code != 0 {
			t.Fatal("export failed")
		}
		// A forger rewrites the tail of a chain and deletes the stored
		// checkpoints; the exported ones still catch it.
		f.tamper(t, `DELETE FROM ledger_entries WHERE `+topicIs+` AND "offset" >= $2`, "ingress.tax.returns", int64(3))
		f.tamper(t, `DELETE FROM ledger_checkpoints`)
		out, code := runCmd(t, verifyCmd, "--database", f.url, "--checkpoints", cps)
		if code != 1 || !strings.Contains(out, "chain ingress.tax.returns/0 seq 5: entry missing: a signed exported checkpoint covers seq 5") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("Query", func(t *testing.T) {
		f := newFixture(t)
		out, code := runCmd(t, queryCmd, "--database", f.url, "--dataset", "health.immunisations", "--decision", "delivered", "--limit", "3")
		var page struct {
			Entries []map[string]any `json:"entries"`
			Next    string           `json:"next"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Entries) != 3 || page.Next == "" {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		after := page.Next
		page.Entries, page.Next = nil, ""
		out, code = runCmd(t, queryCmd, "--database", f.url, "--dataset", "health.immunisations", "--decision", "delivered", "--limit", "3", "--after", after)
		if json.Unmarshal([]byte(out), &page) != nil || len(page.Entries) != 3 || page.Next != "" {
			t.Fatalf("second page: exit %d\n%s", code, out)
		}
		if _, code := runCmd(t, queryCmd, "--database", f.url, "--sort", "dataset; DROP TABLE ledger_entries"); code != 2 {
			t.Fatalf("bad sort: exit %d, want 2", code)
		}
	})
}

func TestAuditSQLite(t *testing.T)   { testAuditCommands(t, sqliteFixture) }
func TestAuditPostgres(t *testing.T) { testAuditCommands(t, postgresFixture) }

// TestAuditFindsTheDevLedger: with no --database, in a directory holding
// .exchange-dev/, verify uses the dev ledger and its public key and says so;
// without it, it says what to pass. A bare path to an existing file is taken
// as SQLite, sqlite://relative/path as the relative path, and an unknown
// kind of URL lists the accepted forms.
func TestAuditFindsTheDevLedger(t *testing.T) {
	t.Setenv(databaseEnv, "")
	t.Chdir(t.TempDir())
	run := func(args ...string) (stdout, stderr string, err error) {
		var o, e bytes.Buffer
		err = auditVerify(context.Background(), &o, &e, args)
		return o.String(), e.String(), err
	}

	_, stderr, err := run()
	if exitCode(err) != 2 || !strings.Contains(stderr, "pass --database URL") || !strings.Contains(stderr, ".exchange-dev/exchange.db") {
		t.Fatalf("without .exchange-dev: exit %d, stderr %q", exitCode(err), stderr)
	}

	if err := os.Mkdir(devDataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	f := auditFixture{url: "sqlite:" + devDataDir + "/" + devLedgerFile}
	writeFixture(t, f, filepath.Join(devDataDir, devSigningKeyFile))
	stdout, stderr, err := run()
	if err != nil || !strings.HasPrefix(stdout, "ok: 2 chains, 25 entries, 3 checkpoints intact; signatures checked against key ") {
		t.Fatalf("dev ledger: err %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	for _, want := range []string{"using the dev ledger sqlite:.exchange-dev/exchange.db", "public key .exchange-dev/ledger-signing.key.pub"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}

	for _, given := range []string{".exchange-dev/exchange.db", "sqlite://.exchange-dev/exchange.db"} {
		stdout, stderr, err := run("--database", given)
		if err != nil || !strings.HasPrefix(stdout, "ok: ") || !strings.Contains(stderr, "sqlite:.exchange-dev/exchange.db") {
			t.Errorf("--database %s: err %v\nstdout %s\nstderr %s", given, err, stdout, stderr)
		}
	}
	for given, want := range map[string]string{
		"mysql://db/ledger":  `unknown kind of store "mysql"; give postgres://`,
		"nowhere/ledger.db":  "not a URL and no such file; give postgres://",
		"sqlite://nowhere/x": "", // the SQLite backend's own error (a host is not allowed)
	} {
		_, _, err := run("--database", given)
		if err == nil || exitCode(err) == 0 || !strings.Contains(err.Error(), want) {
			t.Errorf("--database %s: err %v, want one containing %q", given, err, want)
		}
	}
}

// describe writes recorded verifications field by field (ledger.Chain's
// String would hide them).
func describe(vs []store.ChainVerification) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "[%s by %q at %s: %d entries, ok %t, first break %q] ", v.Chain, v.By, v.At, v.Entries, v.OK, v.FirstBreak)
	}
	return b.String()
}

// TestAuditVerifyReadOnlyRole: a PostgreSQL role that may only read the
// ledger still verifies it (exit 0, "ok: …"); recording the result is
// refused, which verify says on stderr, and nothing is recorded.
func TestAuditVerifyReadOnlyRole(t *testing.T) {
	f := postgresFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	role, password := storetest.RandomName("exchange_reader_"), storetest.RandomName("pw")
	id := pgx.Identifier{role}.Sanitize()
	for _, stmt := range []string{
		"CREATE ROLE " + id + " LOGIN PASSWORD '" + password + "'",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + id,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if cc, err := pgx.Connect(c, f.url); err == nil {
			defer cc.Close(c)
			_, _ = cc.Exec(c, "DROP OWNED BY "+id)
			_, _ = cc.Exec(c, "DROP ROLE "+id)
		}
	})
	var o, e bytes.Buffer
	err = auditVerify(ctx, &o, &e, []string{"--database", storetest.WithUser(t, f.url, role, password), "--public-key", f.pubFile})
	if err != nil || !strings.HasPrefix(o.String(), "ok: 2 chains, 25 entries") {
		t.Fatalf("read-only verify: %v\n%s%s", err, o.String(), e.String())
	}
	if !strings.Contains(e.String(), "warning: this verification is not recorded") {
		t.Errorf("read-only verify says nothing of the record it could not write: %q", e.String())
	}
	if got := recordedVerifications(t, f); len(got) != 0 {
		t.Errorf("a read-only role recorded %s", describe(got))
	}
}
