package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// TestUpgradeToLeanLedger: a ledger written in the layout of migrations
// 0001–0003 (topic, partition and dataset on every row, a GIN index on
// delivery ids) is carried over by 0004 with every hash intact, and the
// store keeps appending to the same chains.
func TestUpgradeToLeanLedger(t *testing.T) {
	url := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	all, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Version > 3 {
			break
		}
		if _, err := conn.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	// Two chains in two months, written as the 0002 layout stored them.
	var old []ledger.Entry
	old = append(old, storetest.Entries("ingress.health.immunisations", 0, 0, 30)...)
	old = append(old, storetest.Entries("ingress.tax.returns", 1, 0, 12)...)
	for i := range old[30:36] {
		old[30+i].DecisionTime = old[30+i].DecisionTime.AddDate(0, -1, 0) // an earlier month
	}
	b, err := ledger.NewBatch(old)
	if err != nil {
		t.Fatal(err)
	}
	// Before 0004 delivery ids were opaque hashes: the copied rows must keep
	// them, or their entry hashes would no longer verify.
	const opaqueID = "00cef3fd4b2b20da980ad8f180790e0b"
	first := b.Entries[b.Chains[0]][0]
	if len(first.Deliveries) == 0 {
		t.Fatal("fixture: the first entry has no delivery")
	}
	first.Deliveries[0].DeliveryID = opaqueID
	for _, c := range b.Chains {
		ledger.Link(ledger.Head{MaxOffset: -1}, b.Entries[c])
		if _, err := conn.Exec(ctx, `INSERT INTO ledger_chains (topic, partition) VALUES ($1, $2)`, c.Topic, c.Partition); err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Entries[c] {
			if _, err := conn.Exec(ctx, `SELECT exchange_ensure_ledger_partition($1)`, e.DecisionTime); err != nil {
				t.Fatal(err)
			}
			row := []any{e.Topic, e.Partition, e.Offset, e.Seq, e.Dataset, e.KeyHash, e.PayloadHash, int64(e.SchemaID),
				string(e.Decision), e.Reasons, nil, nil, nil, nil, nil, e.PlanVersion, e.SubjectHash, nil, e.DecisionTime, e.PrevHash, e.Hash}
			if len(e.Deliveries) > 0 {
				var a, tp, id []string
				for _, d := range e.Deliveries {
					a, tp, id = append(a, d.AgreementID), append(tp, d.Topic), append(id, d.DeliveryID)
				}
				row[10], row[11], row[12] = a, tp, id
			}
			if len(e.Skips) > 0 {
				var a, r []string
				for _, sk := range e.Skips {
					a, r = append(a, sk.AgreementID), append(r, sk.Reason)
				}
				row[13], row[14] = a, r
			}
			if !e.EventTime.IsZero() {
				row[17] = e.EventTime.UnixMicro()
			}
			if _, err := conn.Exec(ctx, `INSERT INTO ledger_entries (topic, partition, "offset", seq, dataset, key_hash,
				payload_hash, schema_id, decision, reasons, delivery_agreements, delivery_topics, delivery_ids,
				skip_agreements, skip_reasons, plan_version, subject_hash, event_time_us, decision_time, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`, row...); err != nil {
				t.Fatal(err)
			}
		}
	}

	db, err := Open(ctx, url, store.NewConfig())
	if err != nil {
		t.Fatalf("open (applies 0004): %v", err)
	}
	defer db.Close()
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breaks) != 0 || rep.Chains != 2 || rep.Entries != int64(len(old)) {
		t.Fatalf("after the upgrade: %d chains, %d entries, breaks %v; want 2 chains, %d entries, none", rep.Chains, rep.Entries, rep.Breaks, len(old))
	}
	p, err := db.Query(ctx, ledger.Query{Dataset: "tax.returns", Limit: ledger.MaxLimit})
	if err != nil || len(p.Entries) != 12 {
		t.Fatalf("dataset query after the upgrade: %d entries, %v; want 12", len(p.Entries), err)
	}
	pos := int64(first.Offset)
	p, err = db.Query(ctx, ledger.Query{Topic: first.Topic, Partition: &first.Partition, Offset: &pos})
	if err != nil || len(p.Entries) != 1 || p.Entries[0].Deliveries[0].DeliveryID != opaqueID {
		t.Fatalf("an old entry's delivery id after the upgrade: %+v, %v; want %s kept", p, err, opaqueID)
	}
	// A copied entry's own (new-form) ids are found as before.
	second := b.Entries[b.Chains[0]][3]
	p, err = db.Query(ctx, ledger.Query{DeliveryID: second.Deliveries[1].DeliveryID})
	if err != nil || len(p.Entries) != 1 || p.Entries[0].Offset != second.Offset {
		t.Fatalf("lookup of a copied entry's delivery id: %+v, %v", p, err)
	}
	// The chains go on where they were.
	if err := db.Append(ctx, storetest.Entries("ingress.health.immunisations", 0, 30, 40)); err != nil {
		t.Fatal(err)
	}
	rep, err = ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil || len(rep.Breaks) != 0 || rep.Entries != int64(len(old)+10) {
		t.Fatalf("after appending: %+v, %v", rep, err)
	}
	var gin int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE indexdef ILIKE '%USING gin%'`).Scan(&gin); err != nil || gin != 0 {
		t.Fatalf("%d GIN indexes left (%v), want 0", gin, err)
	}
}
