package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/policy"
)

// benchEntriesEnv overrides how many ledger entries BenchmarkConsolePages
// writes (default 10,000,000).
const benchEntriesEnv = "EXCHANGE_BENCH_CONSOLE_ENTRIES"

// benchDatasets are the example datasets with their agreements (id and
// consumer), the shape of the generated ledger.
var benchDatasets = []struct {
	dataset    string
	agreements [][2]string // agreement id, consumer
	rules      []string    // reason codes of its quarantines
}{
	{"health.immunisations", [][2]string{{"health-to-social-2026-001", "social-services"}, {"health-to-statistics-2026-002", "statistics"}},
		[]string{policy.QualityReason("age_in_range"), policy.QualityReason("dose_number_valid"), policy.ReasonDecodeMalformed, policy.ReasonFreshnessStale}},
	{"civil-registry.births", [][2]string{{"civil-registry-to-health-2026-003", "health"}, {"civil-registry-to-tax-2026-006", "tax"}},
		[]string{policy.ReasonDecodeMalformed, policy.ReasonSchemaUnknownID, policy.ReasonFreshnessStale, policy.ReasonDecodeMalformed}},
	{"social-services.benefit-claims", [][2]string{{"social-to-statistics-2026-005", "statistics"}},
		[]string{policy.ReasonDecodeMalformed, policy.ReasonSchemaUnknownID, policy.ReasonFreshnessStale, policy.ReasonDecodeMalformed}},
	{"tax.income-assessments", [][2]string{{"tax-to-social-2026-004", "social-services"}},
		[]string{policy.ReasonDecodeMalformed, policy.ReasonSchemaUnknownID, policy.ReasonFreshnessStale, policy.ReasonDecodeMalformed}},
}

const (
	benchPartitions = 3     // per dataset: 12 chains
	benchSubjects   = 1_000 // identifiers BENCH-n whose hashes are the app's, each in entries/1e6 entries
	benchDays       = 30    // the ledger spans the last 30 days
)

// BenchmarkConsolePages fills a dedicated PostgreSQL database (dropped
// afterwards) with 10 million ledger entries of the example datasets over
// 30 days, through SQL producing valid rows into the real tables and
// indexes (month partitions, chain keys, subject and quarantine indexes),
// with the aggregates the runtime would have kept, then runs the
// exchange on it and measures each console page as the auditor over b.N
// requests, reporting p50 and p95 (ms). Run:
//
//	EXCHANGE_TEST_DATABASE_URL=$(bash deploy/local/postgres.sh url) \
//	  go test -run '^$' -bench ConsolePages -benchtime 50x -timeout 60m ./exchange/console/
func BenchmarkConsolePages(b *testing.B) {
	super := storetest.PostgresURL(b)
	entries := 10_000_000
	if s := os.Getenv(benchEntriesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1_000_000 {
			b.Fatalf("%s=%q: want a number of entries ≥ 1000000", benchEntriesEnv, s)
		}
		entries = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	dbURL := storetest.CreateDatabase(b, super)
	s := startStack(ctx, b, 0, func(c *app.Config, _ string) { c.DatabaseURL = dbURL })
	start := time.Now()
	deliveryID := fillLedger(ctx, b, dbURL, s.keys, entries)
	b.Logf("filled %d ledger entries and their aggregates in %v", entries, time.Since(start).Round(time.Second))

	client, csrf := signInHTTP(b, s.base, "auditor.token")
	for _, p := range benchPages(deliveryID) {
		b.Run(p.name, func(b *testing.B) {
			req := func() (int, string) {
				var resp *http.Response
				var err error
				if p.form != nil {
					p.form.Set("csrf", csrf)
					resp, err = client.PostForm(s.base+p.path, p.form)
				} else {
					resp, err = client.Get(s.base + p.path)
				}
				if err != nil {
					b.Fatal(err)
				}
				return resp.StatusCode, readAll(b, resp)
			}
			// The first answer is checked: the page found what it shows.
			switch code, body := req(); {
			case code != http.StatusOK:
				b.Fatalf("%s: %d", p.path, code)
			case !strings.Contains(body, "</main>") || !strings.Contains(body, p.want):
				b.Fatalf("%s: the page lacks %q", p.path, p.want)
			}
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				req()
				took = append(took, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(took)
			pct := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
		})
	}
}

type benchPage struct {
	name, path string
	form       url.Values // POST when set
	want       string     // in the page: it found what it shows
}

func benchPages(deliveryID string) []benchPage {
	p := console.Prefix
	return []benchPage{
		{name: "overview", path: p, want: `id="flows"`},
		{name: "overview-30d", path: p + "?days=30", want: `id="flows"`},
		{name: "audit-dataset", path: p + "audit?dataset=health.immunisations", want: `class="decision decision-`},
		{name: "audit-agreement", path: p + "audit?agreement=tax-to-social-2026-004", want: `class="decision decision-`},
		{name: "audit-consumer-reason", path: p + "audit?consumer=statistics&decision=delivered&sort=-decision_time", want: `class="decision decision-delivered`},
		{name: "audit-quarantined-reason", path: p + "audit?decision=quarantined&reason=schema:unknown_id", want: `class="decision decision-quarantined`},
		{name: "lineage", path: p + "lineage?delivery_id=" + deliveryID, want: `id="deliveries"`},
		{name: "subject-report", path: p + "subject", form: url.Values{"identifier": {"BENCH-42"}, "purpose": {"bench"}}, want: `class="delivery-id"`},
		{name: "integrity", path: p + "integrity", want: `id="chains"`},
		{name: "agreements", path: p + "agreements", want: `id="agreements"`},
		{name: "agreement", path: p + "agreements/health-to-social-2026-001", want: `id="activity-table"`},
		{name: "catalog", path: p + "catalog", want: `id="catalog"`},
		{name: "catalog-dataset", path: p + "catalog/health.immunisations", want: `id="fields"`},
		{name: "requests", path: p + "requests", want: `</main>`},
		{name: "quality", path: p + "quality", want: `id="sla"`},
		{name: "quality-90d-dataset", path: p + "quality?days=90&dataset=health.immunisations", want: `id="sla"`},
		{name: "quarantine", path: p + "quarantine", want: `/console/quarantine/entry?`},
		{name: "quarantine-dataset", path: p + "quarantine?dataset=tax.income-assessments", want: `/console/quarantine/entry?`},
	}
}

// fillLedger writes n entries over the last benchDays days into the
// database at dbURL and the aggregates of them, and returns a delivery id
// of one of them.
func fillLedger(ctx context.Context, b *testing.B, dbURL string, keys *app.Keys, n int) string {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(what, sql string, args ...any) {
		t0 := time.Now()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		b.Logf("%s: %v", what, time.Since(t0).Round(time.Millisecond))
	}
	exec("session", "SET synchronous_commit = off")
	benchTables(ctx, b, conn, keys)
	to := time.Now().UTC().Add(-time.Minute)
	from := to.Add(-benchDays * 24 * time.Hour)
	for m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(to); m = m.AddDate(0, 1, 0) {
		exec("partition "+m.Format("2006-01"), "SELECT exchange_ensure_ledger_partition($1)", m)
	}
	step := to.Sub(from).Microseconds() / int64(n)
	const chunk = 1_000_000
	for lo := 0; lo < n; lo += chunk {
		exec(fmt.Sprintf("entries %d–%d", lo, min(lo+chunk, n)-1), insertEntries, lo, min(lo+chunk, n)-1, from, step)
	}
	exec("analyze", "ANALYZE ledger_entries")
	exec("SLA aggregates", insertDaily)
	exec("agreement aggregates", insertAgreementDaily)
	exec("lag histograms", `INSERT INTO sla_daily_lag (day, dataset, agreement, bucket, count)
		SELECT day, dataset, agreement, 20 + (hashtext(day || agreement) & 3), on_time FROM sla_daily WHERE on_time > 0`)
	exec("reason aggregates", insertReasons)
	exec("skip aggregates", `INSERT INTO sla_daily_skips (day, dataset, agreement, reason, skipped)
		SELECT day, dataset, agreement, r, 1 + on_time / 20 FROM sla_daily CROSS JOIN unnest(ARRAY['filter', 'revoked', 'stale']) r
		WHERE agreement <> ''`)
	exec("recorded verifications", `INSERT INTO ledger_verifications (verified_at, verified_by, topic, partition, entries, ok)
		SELECT now() - make_interval(days => v), 'auditor auditor (bearer)', c.topic, c.partition, 1000, true
		FROM ledger_chains c, generate_series(1, 30) v`)
	exec("checkpoints", `INSERT INTO ledger_checkpoints (topic, partition, seq, hash, signed_at, key_id, public_key, signature)
		SELECT c.topic, c.partition, s, sha256(int8send(s)), now() - interval '1 minute', 'bench', '\x00'::bytea, '\x00'::bytea
		FROM ledger_chains c, generate_series(1000, 100000, 1000) s`)
	var ds, topic string
	var part int32
	var off int64
	if err := conn.QueryRow(ctx, `SELECT c.dataset, c.topic, c.partition, e."offset" FROM ledger_entries e JOIN ledger_chains c ON c.id = e.chain
		WHERE e.decision = 'delivered' AND e.decision_time > now() - interval '2 days' LIMIT 1`).Scan(&ds, &topic, &part, &off); err != nil {
		b.Fatal(err)
	}
	for _, d := range benchDatasets {
		if d.dataset == ds {
			return ledger.DeliveryID(d.agreements[0][0], topic, part, off)
		}
	}
	b.Fatalf("no dataset %s", ds)
	return ""
}

// benchTables creates the chains and the lookup tables the generating SQL
// reads: per chain its dataset's agreements, topics and reasons, and the
// app's subject hashes of BENCH-0 … BENCH-999.
func benchTables(ctx context.Context, b *testing.B, conn *pgx.Conn, keys *app.Keys) {
	_, err := conn.Exec(ctx, `CREATE TEMP TABLE bench_chain (k int PRIMARY KEY, chain int, agreements text[], topics text[], reasons text[]);
		CREATE TEMP TABLE bench_subject (n int PRIMARY KEY, h bytea)`)
	if err != nil {
		b.Fatal(err)
	}
	k := 0
	for _, d := range benchDatasets {
		var ags, tops []string
		for _, a := range d.agreements {
			ags, tops = append(ags, a[0]), append(tops, names.Deliver(a[1], a[0]))
		}
		for p := 0; p < benchPartitions; p++ {
			var id int
			if err := conn.QueryRow(ctx, `INSERT INTO ledger_chains (topic, partition, dataset) VALUES ($1, $2, $3) RETURNING id`,
				names.Ingress(d.dataset), p, d.dataset).Scan(&id); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO bench_chain VALUES ($1, $2, $3, $4, $5)`, k, id, ags, tops, d.rules); err != nil {
				b.Fatal(err)
			}
			k++
		}
	}
	rows := make([][]any, benchSubjects)
	for i := range rows {
		rows[i] = []any{i, policy.SubjectHash(keys.SubjectKey(), "BENCH-"+strconv.Itoa(i))}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_subject"}, []string{"n", "h"}, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
}

// insertEntries writes entries $1…$2: entry i is on chain i mod 12 at
// offset (and seq) i/12, decided at $3 + i·$4 µs; 3 % are quarantined
// (one of the dataset's reasons), 5 % dropped (skipped by the first
// agreement's filter), the rest delivered to every agreement of the
// dataset. Subject i mod 1,000,000: BENCH-<n>'s real hash below 1,000.
const insertEntries = `
INSERT INTO ledger_entries (chain, "offset", seq, key_hash, payload_hash, schema_id, decision, reasons,
	delivery_agreements, delivery_topics, skip_agreements, skip_reasons, plan_version, subject_hash,
	event_time_us, decision_time, prev_hash, hash)
SELECT c.chain, i / 12, i / 12 + 1, sha256(int8send(i)), sha256(int8send(-i)), 1,
	CASE WHEN i % 100 < 3 THEN 'quarantined' WHEN i % 100 < 8 THEN 'dropped' ELSE 'delivered' END,
	CASE WHEN i % 100 < 3 THEN ARRAY[c.reasons[1 + (i / 100) % 4]] END,
	CASE WHEN i % 100 >= 8 THEN c.agreements END,
	CASE WHEN i % 100 >= 8 THEN c.topics END,
	CASE WHEN i % 100 BETWEEN 3 AND 7 THEN ARRAY[c.agreements[1]] END,
	CASE WHEN i % 100 BETWEEN 3 AND 7 THEN ARRAY['filter'] END,
	'bench', coalesce(s.h, sha256(int8send(i % 1000000))),
	extract(epoch FROM t.at)::bigint * 1000000 - 1000000, t.at,
	sha256(int8send(i - 12)), sha256(int8send(i) || '\x01'::bytea)
FROM generate_series($1::bigint, $2::bigint) i
JOIN bench_chain c ON c.k = i % 12
LEFT JOIN bench_subject s ON s.n = i % 1000000
CROSS JOIN LATERAL (SELECT $3::timestamptz + make_interval(secs => (i * $4::bigint) / 1e6) AS at) t`

// insertDaily: each dataset's own daily row (records, on time, stale 0,
// quarantined), as the aggregator keeps it.
const insertDaily = `
INSERT INTO sla_daily (day, dataset, agreement, records, on_time, stale, quarantined)
SELECT to_char(e.decision_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), c.dataset, '', count(*),
	count(*) FILTER (WHERE e.decision <> 'quarantined'), 0, count(*) FILTER (WHERE e.decision = 'quarantined')
FROM ledger_entries e JOIN ledger_chains c ON c.id = e.chain GROUP BY 1, 2`

// insertAgreementDaily: each agreement's daily deliveries.
const insertAgreementDaily = `
INSERT INTO sla_daily (day, dataset, agreement, records, on_time, stale, quarantined)
SELECT d.day, d.dataset, a, d.on_time, d.on_time, 0, 0
FROM sla_daily d JOIN bench_chain c ON true
CROSS JOIN LATERAL unnest(c.agreements) a
WHERE d.agreement = '' AND c.k % 3 = 0 AND c.topics[1] IS NOT NULL
	AND c.chain IN (SELECT id FROM ledger_chains WHERE dataset = d.dataset)`

// insertReasons: per day, dataset and reason, the quarantines.
const insertReasons = `
INSERT INTO sla_daily_reasons (day, dataset, reason, quarantined, warned)
SELECT to_char(e.decision_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), c.dataset, r, count(*), 0
FROM ledger_entries e JOIN ledger_chains c ON c.id = e.chain CROSS JOIN LATERAL unnest(e.reasons) r
WHERE e.decision = 'quarantined' GROUP BY 1, 2, 3`
