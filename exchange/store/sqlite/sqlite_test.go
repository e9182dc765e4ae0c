package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

func openFresh(t *testing.T, opts ...store.Option) store.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "exchange.db"), opts...)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// superExec drops the append-only triggers, as anyone who can write the
// file can, and runs sql.
func superExec(t *testing.T, b store.Backend, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := b.(*sqlite.DB).Writer()
	for _, tr := range []string{"ledger_entries_no_update", "ledger_entries_no_delete", "ledger_checkpoints_no_update", "ledger_checkpoints_no_delete"} {
		if _, err := w.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+tr); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ExecContext(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: openFresh, Exec: superExec, EntryWhere: entryWhere})
}

// entryWhere selects one entry by $1 topic, $2 partition, $3 offset
// (entries carry their chain's id since migration 0005).
const entryWhere = `chain = (SELECT id FROM ledger_chains WHERE topic = $1 AND partition = $2) AND "offset" = $3`

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"sqlite:///var/lib/exchange/x.db": "/var/lib/exchange/x.db",
		"sqlite:data/x.db":                "data/x.db",
		"SQLITE:///a b.db":                "/a b.db",
	} {
		got, err := sqlite.Path(in)
		if err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"sqlite://host/x.db", "sqlite:///", "postgres:///x", "sqlite://"} {
		if _, err := sqlite.Path(bad); err == nil {
			t.Errorf("Path(%q) accepted", bad)
		}
	}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	url := "sqlite://" + filepath.Join(t.TempDir(), "m.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := store.Open(ctx, url, store.WithoutMigrate())
			if err != nil {
				t.Error(err)
				return
			}
			defer b.Close()
			applied, err := b.Migrate(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += len(applied)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if want := countMigrations(t); total != want {
		t.Fatalf("concurrent starters applied %d migrations in total, want %d", total, want)
	}
	b, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if again, err := b.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second migrate: %v %v", again, err)
	}
}

// TestAppendOnlyTriggers: through the schema, ledger rows cannot be changed.
func TestAppendOnlyTriggers(t *testing.T) {
	b := openFresh(t)
	ctx := context.Background()
	if err := b.Append(ctx, storetest.Entries("ingress.a.b", 0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	w := b.(*sqlite.DB).Writer()
	for _, sql := range []string{`UPDATE ledger_entries SET decision = 'dropped'`, `DELETE FROM ledger_entries`} {
		if _, err := w.ExecContext(ctx, sql); err == nil {
			t.Errorf("%s succeeded", sql)
		}
	}
}

func TestTwoProcessesOneFile(t *testing.T) {
	// Two stores on one file stand in for two exchange processes.
	url := "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var bs []store.Backend
	for i := 0; i < 2; i++ {
		b, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		bs = append(bs, b)
	}
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Add(1)
		go func(i int, b store.Backend) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				from := int64(j*10 + i*5)
				if err := b.Append(ctx, storetest.Entries("ingress.a.b", 0, from, from+10)); err != nil {
					t.Error(err)
					return
				}
			}
		}(i, b)
	}
	wg.Wait()
	got := storetest.ReadChain(t, bs[0], "ingress.a.b", 0)
	if len(got) != 205 {
		t.Fatalf("%d entries, want 205", len(got))
	}
	if rep := storetest.MustVerify(t, bs[1], ledger.VerifyOptions{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Breaks)
	}
}

func TestOpenFailure(t *testing.T) {
	ctx := context.Background()
	_, err := store.Open(ctx, "sqlite:///proc/no/such/dir/x.db")
	if err == nil {
		t.Fatal("opened a file that cannot exist")
	}
}

// countMigrations counts the migration files of the package.
func countMigrations(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("listing migrations: %v (%d files)", err, len(files))
	}
	return len(files)
}

// TestUpgradeFrom0001: a database holding entries written under migration
// 0001 (deliveries in ledger_deliveries) migrates to the latest schema,
// answers queries by agreement and consumer for its old entries, and takes
// new appends, which are found by delivery id.
//
// Its old entries carry opaque delivery ids (written before ids located
// their entry, ledger.DeliveryID); since migration 0004 dropped the
// delivery-id index, a query by such an id finds nothing — whether or not
// it has the form of a new id — though the entry still lists it.
func TestUpgradeFrom0001(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "old.db"), store.WithoutMigrate())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m0001, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	// An old id in the exchange's former form, 32 hex digits of a SHA-256
	// of the agreement and source record, which also parses as a new one:
	// it names a partition and offset where no entry lists it.
	const oldHexID = "a2f540a4666f42c801b2e1d68f41a6b9"
	if _, _, ok := ledger.LocateDelivery(oldHexID); !ok {
		t.Fatalf("%s: want an old id that has the form of a delivery id", oldHexID)
	}
	w := b.(*sqlite.DB).Writer()
	for _, stmt := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us INTEGER NOT NULL)`,
		string(m0001),
		`INSERT INTO schema_migrations VALUES (1, '0001_init', 0)`,
		`INSERT INTO ledger_chains VALUES ('ingress.old.data', 0, 0)`,
		`INSERT INTO ledger_entries (id, topic, partition, "offset", seq, dataset, schema_id, decision, reasons, deliveries, skips,
			plan_version, decision_time_us, hash) VALUES (1, 'ingress.old.data', 0, 0, 1, 'old.data', 1, 'delivered', '[]',
			'[["agr-1","deliver.consumer-1.agr-1","did-old-1"],["agr-2","deliver.consumer-2.agr-2","` + oldHexID + `"]]', '[]', 'plan-1', 1700000000000000, x'00')`,
		`INSERT INTO ledger_deliveries VALUES (1, 0, 'agr-1', 'consumer-1', 'did-old-1')`,
		`INSERT INTO ledger_deliveries VALUES (1, 1, 'agr-2', 'consumer-2', '` + oldHexID + `')`,
	} {
		if _, err := w.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%.60s: %v", stmt, err)
		}
	}
	applied, err := b.Migrate(ctx)
	if err != nil || len(applied) != countMigrations(t)-1 {
		t.Fatalf("migrate: applied %v, %v", applied, err)
	}
	if err := b.Append(ctx, storetest.Entries("ingress.new.data", 0, 0, 30)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name LIKE 'ledger_delivery%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("delivery-id index tables or triggers left after migrating: %d, %v", n, err)
	}
	// An old opaque id is not a delivery id any more: a bad query.
	if _, err := b.Query(ctx, ledger.Query{DeliveryID: "did-old-1"}); !errors.Is(err, ledger.ErrBadQuery) {
		t.Errorf("old opaque delivery id: err = %v, want ErrBadQuery", err)
	}
	for name, tc := range map[string]struct {
		q    ledger.Query
		want int
	}{
		"old hex delivery id":    {ledger.Query{DeliveryID: oldHexID}, 0},
		"old agreement":          {ledger.Query{Agreement: "agr-1"}, 1},
		"old second agreement":   {ledger.Query{Agreement: "agr-2"}, 1},
		"old consumer":           {ledger.Query{Consumer: "consumer-1"}, 1},
		"new delivery id":        {ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.new.data", 0, 9)}, 1},
		"new id, other position": {ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.new.data", 0, 10)}, 0},
		"new consumer":           {ledger.Query{Consumer: "social-services"}, 10},
		"consumer prefix":        {ledger.Query{Consumer: "social"}, 0},
		"dotted consumer":        {ledger.Query{Consumer: "social-services.hlth-soc-02"}, 0},
		"all":                    {ledger.Query{}, 31},
	} {
		p, err := b.Query(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Entries) != tc.want {
			t.Errorf("%s: %d entries, want %d", name, len(p.Entries), tc.want)
		}
	}
}

// TestUpgradeToChainIDs: a ledger written in the layout of migrations
// 0001–0004 (topic, partition and dataset on every row, one column per
// field) is carried over by 0005 with every hash intact — entries with
// opaque delivery ids, NULL and empty hashes, no event time, a chain whose
// entries name two datasets, signed checkpoints — and the store keeps
// appending to the same chains.
func TestUpgradeToChainIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	key := storetest.TestKey(t)
	b, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "old.db"), store.WithoutMigrate(), store.WithSigningKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	w := b.(*sqlite.DB).Writer()
	if _, err := w.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files[:4] {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ExecContext(ctx, string(text)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	// Entries as the old layout stored them, linked as appends linked them.
	var old []ledger.Entry
	old = append(old, storetest.Entries("ingress.health.immunisations", 0, 0, 30)...)
	old = append(old, storetest.Entries("ingress.tax.returns", 1, 0, 12)...)
	old[3].Deliveries[0].DeliveryID = "00cef3fd4b2b20da980ad8f180790e0b" // an opaque id of before ledger.DeliveryID
	old[4].Deliveries = []ledger.Delivery{{AgreementID: "agr-x", Topic: "deliver.x.agr-x", DeliveryID: "did-old"}}
	old[5].KeyHash, old[5].SubjectHash = []byte{}, nil
	old[7].Dataset = "health.renamed" // a chain whose entries name two datasets
	old[8].Reasons, old[8].Skips = nil, nil
	heads := map[ledger.Chain]ledger.Head{}
	for i := range old {
		e := &old[i]
		ledger.Normalize(e)
		c := ledger.Chain{Topic: e.Topic, Partition: e.Partition}
		h := heads[c]
		h.Extend(e)
		heads[c] = h
		if _, err := w.ExecContext(ctx, `INSERT OR IGNORE INTO ledger_chains VALUES (?, ?, 0)`, e.Topic, e.Partition); err != nil {
			t.Fatal(err)
		}
		var evt any
		if !e.EventTime.IsZero() {
			evt = e.EventTime.UnixMicro()
		}
		reasons, _ := json.Marshal(append([]string{}, e.Reasons...))
		dl, sk := [][]string{}, [][]string{}
		for _, d := range e.Deliveries {
			dl = append(dl, []string{d.AgreementID, d.Topic, d.DeliveryID})
		}
		for _, s := range e.Skips {
			sk = append(sk, []string{s.AgreementID, s.Reason})
		}
		dlj, _ := json.Marshal(dl)
		skj, _ := json.Marshal(sk)
		nullable := func(p []byte) any {
			if p == nil {
				return nil
			}
			return p
		}
		if _, err := w.ExecContext(ctx, `INSERT INTO ledger_entries (topic, partition, "offset", seq, dataset, key_hash, payload_hash,
			schema_id, decision, reasons, deliveries, skips, plan_version, subject_hash, event_time_us, decision_time_us, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Topic, e.Partition, e.Offset, e.Seq, e.Dataset, nullable(e.KeyHash), nullable(e.PayloadHash), e.SchemaID, string(e.Decision),
			string(reasons), string(dlj), string(skj), e.PlanVersion, nullable(e.SubjectHash), evt, e.DecisionTime.UnixMicro(),
			nullable(e.PrevHash), e.Hash); err != nil {
			t.Fatal(err)
		}
	}
	for c, h := range heads {
		cp := ledger.Checkpoint{Topic: c.Topic, Partition: c.Partition, Seq: h.Seq, Hash: h.Hash}
		ledger.SignCheckpoint(&cp, key, time.Now())
		if _, err := w.ExecContext(ctx, `INSERT INTO ledger_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			cp.Topic, cp.Partition, cp.Seq, cp.Hash, cp.Time.UnixMicro(), cp.KeyID, cp.PublicKey, cp.Signature); err != nil {
			t.Fatal(err)
		}
	}

	applied, err := b.Migrate(ctx)
	if err != nil || len(applied) != countMigrations(t)-4 {
		t.Fatalf("migrate: applied %v, %v", applied, err)
	}
	opts := ledger.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)}
	if rep := storetest.MustVerify(t, b, opts); !rep.OK() || rep.Entries != int64(len(old)) {
		t.Fatalf("verify after migrating: %d entries, breaks %v", rep.Entries, rep.Breaks)
	}
	got := append(storetest.ReadChain(t, b, "ingress.health.immunisations", 0), storetest.ReadChain(t, b, "ingress.tax.returns", 1)...)
	if len(got) != len(old) {
		t.Fatalf("read %d entries back, want %d", len(got), len(old))
	}
	for i := range old {
		if !ledger.SameHash(ledger.Canonical(&got[i]), ledger.Canonical(&old[i])) || !ledger.SameHash(got[i].Hash, old[i].Hash) {
			t.Errorf("entry %d changed by the migration:\n got %+v\nwant %+v", i, got[i], old[i])
		}
	}

	// Appends continue the same chains, and a new chain starts.
	more := append(storetest.Entries("ingress.health.immunisations", 0, 25, 60), storetest.Entries("ingress.tax.returns", 1, 12, 20)...)
	more = append(more, storetest.Entries("ingress.new.chain", 2, 0, 5)...)
	if err := b.Append(ctx, more); err != nil {
		t.Fatal(err)
	}
	if rep := storetest.MustVerify(t, b, opts); !rep.OK() || rep.Entries != 60+20+5 {
		t.Fatalf("verify after appending: %d entries, breaks %v", rep.Entries, rep.Breaks)
	}
	chain := storetest.ReadChain(t, b, "ingress.health.immunisations", 0)
	if n := len(chain); n != 60 || chain[30].Seq != 31 || !ledger.SameHash(chain[30].PrevHash, chain[29].Hash) {
		t.Fatalf("chain after appending: %d entries", n)
	}
	for name, tc := range map[string]struct {
		q    ledger.Query
		want int
	}{
		"renamed dataset":  {ledger.Query{Dataset: "health.renamed"}, 1},
		"chain dataset":    {ledger.Query{Dataset: "health.immunisations", Limit: 1000}, 59},
		"old agreement":    {ledger.Query{Agreement: "agr-x"}, 1},
		"topic":            {ledger.Query{Topic: "ingress.tax.returns", Limit: 1000}, 20},
		"new delivery id":  {ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.tax.returns", 1, 3)}, 1},
		"old-layout entry": {ledger.Query{DeliveryID: ledger.DeliveryID("hlth-soc-02", "ingress.health.immunisations", 0, 6)}, 1},
	} {
		p, err := b.Query(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Entries) != tc.want {
			t.Errorf("%s: %d entries, want %d", name, len(p.Entries), tc.want)
		}
	}
	// The append-only triggers are there on every ledger table.
	for _, sql := range []string{`UPDATE ledger_entries SET decision = 'dropped'`, `DELETE FROM ledger_entries`,
		`UPDATE ledger_chains SET topic = 'x'`, `DELETE FROM ledger_chains`,
		`UPDATE ledger_checkpoints SET seq = 0`, `DELETE FROM ledger_checkpoints`} {
		if _, err := w.ExecContext(ctx, sql); err == nil {
			t.Errorf("%s succeeded", sql)
		}
	}
}
