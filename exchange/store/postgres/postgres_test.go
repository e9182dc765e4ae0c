package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/postgres"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

func openFresh(t *testing.T, opts ...store.Option) store.Backend {
	return openFreshB(t, opts...)
}

func openFreshB(t testing.TB, opts ...store.Option) store.Backend {
	t.Helper()
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := store.Open(ctx, url, opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func superExec(t *testing.T, b store.Backend, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.(*postgres.DB).Pool().Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: openFresh, Exec: superExec, EntryWhere: entryWhere})
}

// entryWhere selects one entry by $1 topic, $2 partition, $3 offset.
const entryWhere = `chain = (SELECT id FROM ledger_chains WHERE topic = $1 AND partition = $2) AND "offset" = $3`

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Several starters at once on an empty database: one applies, the
	// others wait on the advisory lock and find nothing to do.
	const starters = 4
	results := make(chan []string, starters)
	errs := make(chan error, starters)
	for i := 0; i < starters; i++ {
		go func() {
			b, err := store.Open(ctx, url, store.WithoutMigrate())
			if err != nil {
				errs <- err
				return
			}
			defer b.Close()
			applied, err := b.Migrate(ctx)
			if err != nil {
				errs <- err
				return
			}
			results <- applied
		}()
	}
	total := 0
	for i := 0; i < starters; i++ {
		select {
		case err := <-errs:
			t.Fatalf("concurrent migrate: %v", err)
		case applied := <-results:
			total += len(applied)
		}
	}
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	again, err := b.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate applied %v, err %v; want nothing", again, err)
	}
	var n int
	if err := b.(*postgres.DB).Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != total || n == 0 {
		t.Fatalf("schema_migrations has %d rows, the starters applied %d", n, total)
	}
}

// TestRuntimeRoleCannotRewriteLedger connects as a login role holding
// exchange_runtime: it can append and read, and UPDATE, DELETE and TRUNCATE
// on the ledger tables are refused.
func TestRuntimeRoleCannotRewriteLedger(t *testing.T) {
	super := storetest.PostgresURL(t)
	url := storetest.CreateDatabase(t, super)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	role, password := storetest.RandomName("exchange_app_"), storetest.RandomName("pw")
	pool := admin.(*postgres.DB).Pool()
	if _, err := pool.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD '"+password+"' IN ROLE exchange_runtime"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.Close()
		conn, err := pgx.Connect(c, super)
		if err == nil {
			defer conn.Close(c)
			// The database is dropped by CreateDatabase's cleanup, which runs after this one.
			_, _ = conn.Exec(c, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
		}
	})
	rt, err := store.Open(ctx, storetest.WithUser(t, url, role, password), store.WithSigningKey(storetest.TestKey(t)))
	if err != nil {
		t.Fatalf("open as runtime role: %v", err)
	}
	defer rt.Close()
	// It appends (into a month with no partition yet, too) and reads.
	es := storetest.Entries("ingress.health.immunisations", 0, 0, 10)
	es[9].DecisionTime = time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC)
	if err := rt.Append(ctx, es); err != nil {
		t.Fatalf("runtime role append: %v", err)
	}
	if rep, err := ledger.Verify(ctx, rt, ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("runtime role verify: %v %+v", err, rep)
	}
	// It records steward actions: approvals and transitions.
	if _, err := rt.PutDocument(ctx, store.Document{Kind: agreements.KindAgreement, ID: "a1", YAML: []byte("a1")}); err != nil {
		t.Fatalf("runtime role put document: %v", err)
	}
	if _, err := rt.Act(ctx, "a1", func(store.Lifecycle) (store.LifecycleChange, error) {
		return store.LifecycleChange{
			Transitions: []store.Transition{{To: agreements.StatusProposed, By: "alice", ContentHash: "h"}},
			Approvals:   []store.Approval{{Agency: "health", Steward: "alice", ContentHash: "h"}},
		}, nil
	}); err != nil {
		t.Fatalf("runtime role lifecycle action: %v", err)
	}
	// It files and decides access requests (grants of 0009).
	ar, err := rt.AddAccessRequest(ctx, store.AccessRequest{Dataset: "health.immunisations", Provider: "health", Consumer: "tax", RequestedBy: "helena.marsh"})
	if err != nil {
		t.Fatalf("runtime role files an access request: %v", err)
	}
	if _, err := rt.DecideAccessRequest(ctx, store.AccessDecision{ID: ar.ID, By: "amara.okafor"}); err != nil {
		t.Fatalf("runtime role decides an access request: %v", err)
	}
	// It adds and reads the daily skip counts (grants of 0014).
	if err := rt.AddSkips(ctx, []sla.SkipDaily{{Day: "2026-12-03", Dataset: "health.immunisations", Agreement: "a1", Reason: "revoked", Skipped: 2}}); err != nil {
		t.Fatalf("runtime role adds skip counts: %v", err)
	}
	if got, err := rt.Skips(ctx, sla.DailyQuery{}); err != nil || len(got) != 1 || got[0].Skipped != 2 {
		t.Fatalf("runtime role reads skip counts: %+v, %v", got, err)
	}
	// It records verifications and reads them (grants of 0014).
	if err := rt.RecordVerification(ctx, store.Verification{By: "auditor", At: time.Now(), Chains: []store.ChainVerification{
		{Chain: ledger.Chain{Topic: "ingress.health.immunisations", Partition: 0}, Entries: 10, OK: true}}}); err != nil {
		t.Fatalf("runtime role records a verification: %v", err)
	}
	if got, err := rt.LatestVerifications(ctx); err != nil || len(got) != 1 {
		t.Fatalf("runtime role reads verifications: %+v, %v", got, err)
	}
	// It indexes, flags and lists flags (grants of 0015).
	bad := storetest.Entries("ingress.health.immunisations", 1, 0, 2)
	bad[1].Decision = "shredded"
	if res, err := rt.Index(ctx, bad); err != nil || res.Stored != 1 || len(res.Flagged) != 1 {
		t.Fatalf("runtime role index: %+v, %v", res, err)
	}
	if err := rt.RecordFlags(ctx, []ledger.Flag{{Reason: ledger.FlagMalformed, Detail: "bad magic"}}); err != nil {
		t.Fatalf("runtime role records a flag: %v", err)
	}
	if _, total, err := rt.Flags(ctx, 10); err != nil || total != 2 {
		t.Fatalf("runtime role lists flags: %d, %v", total, err)
	}
	rpool := rt.(*postgres.DB).Pool()
	for _, sql := range []string{
		`UPDATE agreement_transitions SET to_status = 'active'`,
		`UPDATE agreement_approvals SET steward = 'mallory'`,
		`DELETE FROM agreement_approvals`,
		`UPDATE ledger_entries SET decision = 'dropped'`,
		`UPDATE ledger_entries_2026_11 SET decision = 'dropped'`,
		`DELETE FROM ledger_entries`,
		`DELETE FROM ledger_entries_2031_07`,
		`TRUNCATE ledger_entries`,
		`TRUNCATE ledger_entries_2026_11`,
		`UPDATE ledger_checkpoints SET seq = 1`,
		`DELETE FROM ledger_checkpoints`,
		`TRUNCATE ledger_checkpoints`,
		`DELETE FROM ledger_chains`,
		`UPDATE ledger_flags SET reason = 'invalid'`,
		`DELETE FROM ledger_flags`,
		`UPDATE documents SET yaml = ''`,
		`DELETE FROM agreement_transitions`,
		`DELETE FROM access_requests`,
		`DELETE FROM sla_daily_skips`,
		`UPDATE ledger_verifications SET ok = true`,
		`DELETE FROM ledger_verifications`,
		`ALTER TABLE ledger_entries DETACH PARTITION ledger_entries_2026_11`,
		`DROP TABLE ledger_entries_2026_11`,
		`SELECT exchange_detach_ledger_partition('ledger_entries_2026_11')`,
		`INSERT INTO ledger_archives (topic, partition, up_to_seq, hash, partition_name) VALUES ('t', 0, 1, '\x00', 'x')`,
	} {
		_, err := rpool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "42501" && !strings.Contains(pgErr.Message, "must be owner")) {
			t.Errorf("%s as runtime role: err = %v, want permission denied", sql, err)
		}
	}
	if got := storetest.ReadChain(t, rt, "ingress.health.immunisations", 0); len(got) != 10 {
		t.Fatalf("ledger has %d entries after the refused statements, want 10", len(got))
	}
}

// TestUnavailable: a database that cannot be reached is ErrUnavailable.
func TestUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("open of a closed port: err = %v, want ErrUnavailable", err)
	}
}

func TestUnsafeURLsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{"default_query_exec_mode=simple_protocol", "default_query_exec_mode=exec", "synchronous_commit=off"} {
		_, err := store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?"+q)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: err = %v, want refusal", q, err)
		}
	}
}

// TestArchiveMonth: an old month is detached, dumped (not here) and
// dropped; verify resumes the chains from the recorded anchors, still
// catches a deletion after them, and the runtime role cannot archive.
func TestArchiveMonth(t *testing.T) {
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, url, store.WithSigningKey(storetest.TestKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const topic = "ingress.health.immunisations"
	old := storetest.Entries(topic, 0, 0, 50)
	for i := range old {
		old[i].DecisionTime = time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	}
	if err := db.Append(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := db.Append(ctx, storetest.Entries(topic, 0, 50, 100)); err != nil {
		t.Fatal(err)
	}
	pool := db.(*postgres.DB).Pool()
	var n int
	if err := pool.QueryRow(ctx, `SELECT exchange_detach_ledger_partition('ledger_entries_2026_09')`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("detach: %d chains, %v", n, err)
	}
	if _, err := pool.Exec(ctx, `DROP TABLE ledger_entries_2026_09`); err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil || !rep.OK() || rep.Entries != 50 || len(rep.Archived) != 1 || rep.Archived[0].UpToSeq != 50 {
		t.Fatalf("verify after archiving: %v %+v", err, rep)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM ledger_entries WHERE "offset" = 50`); err != nil {
		t.Fatal(err)
	}
	rep, err = ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil || len(rep.Breaks) != 1 || rep.Breaks[0].Seq != 51 {
		t.Fatalf("verify after deleting the first kept entry: %v %+v", err, rep)
	}
	if err := pool.QueryRow(ctx, `SELECT exchange_detach_ledger_partition('ledger_entries_2026_09')`).Scan(&n); err == nil {
		t.Fatal("detaching a missing partition succeeded")
	}
}

// TestHighestOffsetPlan: the runtime asks for a chain's highest offset on
// every partition assignment; it must read the end of each month's
// (chain, offset) index, not every entry of the chain.
func TestHighestOffsetPlan(t *testing.T) {
	b := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := b.(*postgres.DB).Pool().Query(ctx, "EXPLAIN "+postgres.HighestOffsetQuery, "ingress.a.x", int32(3))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "Limit") || !strings.Contains(plan, "Index Only Scan Backward") || strings.Contains(plan, "Seq Scan on ledger_entries") {
		t.Errorf("highest offset does not read the end of the (chain, offset) indexes:\n%s", plan)
	}
}

// TestSubjectQueryPlan: the data subject report's query reads the
// (subject_hash, decision_time) index of the month partitions, not every
// entry of the ledger.
func TestSubjectQueryPlan(t *testing.T) {
	b := openFresh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := b.(*postgres.DB).Pool()
	if _, err := pool.Exec(ctx, `SELECT exchange_ensure_ledger_partition('2026-11-15T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	q := ledger.Query{SubjectHash: []byte{1, 2, 3}, Limit: ledger.MaxLimit}
	cur, err := q.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	sqlText, args := postgres.QuerySQL(q, cur)
	rows, err := pool.Query(ctx, "EXPLAIN "+sqlText, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	t.Logf("plan:\n%s", plan)
	if !strings.Contains(plan, "subject_hash_decision_time_idx") || strings.Contains(plan, "Seq Scan on ledger_entries") {
		t.Errorf("a data subject's entries are not read through the subject index:\n%s", plan)
	}
}
