package console

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/sla"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres" // postgres:// URLs
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// benchChains is how many chains (ingress partitions) the benchmark
// ledger spreads its entries over.
const benchChains = 12

// BenchmarkPagesPostgres answers each console page as the auditor over a
// PostgreSQL ledger of EXCHANGE_CONSOLE_BENCH_ENTRIES entries (default
// 100,000; issue 17 asks for 10,000,000), a person per three entries, and
// reports each page's p95 in ms. Seeding is outside the timings.
//
//	EXCHANGE_TEST_DATABASE_URL=… EXCHANGE_CONSOLE_BENCH_ENTRIES=10000000 \
//	  go test -run '^$' -bench BenchmarkPagesPostgres -benchtime 200x -timeout 2h ./exchange/console/
func BenchmarkPagesPostgres(b *testing.B) {
	n := 100_000
	if s := os.Getenv("EXCHANGE_CONSOLE_BENCH_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < benchChains*1000 {
			b.Fatalf("EXCHANGE_CONSOLE_BENCH_ENTRIES=%q: want an integer ≥ %d", s, benchChains*1000)
		}
	}
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.CreateDatabase(b, storetest.PostgresURL(b)), store.WithSigningKey(storetest.TestKey(b)),
		store.WithCheckpointEvery(10_000))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	start := time.Now()
	seedLedger(ctx, b, db, n)
	b.Logf("seeded %d entries in %v", n, time.Since(start).Round(time.Second))
	c, cookie := benchConsole(ctx, b, db)
	sample := storetest.Entry("ingress.health.immunisations", 0, int64(n/benchChains/6*3)) // offset % 3 == 0: delivered
	pages := []struct{ name, method, path string }{
		{"overview", http.MethodGet, Prefix},
		{"audit", http.MethodGet, Prefix + "audit?search=1"},
		{"audit-dataset-quarantined", http.MethodGet, Prefix + "audit?dataset=health.immunisations&decision=quarantined"},
		{"lineage", http.MethodGet, Prefix + "lineage?delivery_id=" + sample.Deliveries[0].DeliveryID},
		{"subject", http.MethodPost, Prefix + "subject"},
		{"integrity", http.MethodGet, Prefix + "integrity"},
		{"agreements", http.MethodGet, Prefix + "agreements"},
		{"agreement", http.MethodGet, Prefix + "agreements/" + benchAgreement},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				req := benchRequest(b, c, cookie, p.method, p.path, i)
				rec := httptest.NewRecorder()
				t0 := time.Now()
				c.ServeHTTP(rec, req)
				lat = append(lat, time.Since(t0))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s %s: %d %s", p.method, p.path, rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// seedLedger appends n entries over benchChains chains, 5,000 per batch,
// four writers; SubjectHash names a person per three entries; and the SLA
// aggregates of one day.
func seedLedger(ctx context.Context, b *testing.B, db store.Backend, n int) {
	per := n / benchChains
	var wg sync.WaitGroup
	errs := make(chan error, benchChains)
	sem := make(chan struct{}, 4)
	for ch := 0; ch < benchChains; ch++ {
		wg.Add(1)
		go func(ch int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			for from := 0; from < per; from += 5000 {
				batch := storetest.Entries("ingress.health.immunisations", int32(ch), int64(from), int64(min(from+5000, per)))
				for i := range batch {
					batch[i].SubjectHash = benchSubject(strconv.Itoa((ch*per + int(batch[i].Offset)) / 3))
				}
				if err := db.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}(ch)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	day := sla.Day(time.Now())
	if err := db.AddTimeliness(ctx, nil, []sla.Daily{{Day: day, Dataset: "health.immunisations", Records: int64(n), OnTime: int64(n / 3), Quarantined: int64(n / 3)},
		{Day: day, Dataset: "health.immunisations", Agreement: benchAgreement, Records: int64(n / 3), OnTime: int64(n / 3)}}); err != nil {
		b.Fatal(err)
	}
}

func benchSubject(person string) []byte {
	s := sha256.Sum256([]byte("person-" + person))
	return s[:]
}

// benchConsole is a console over db that sees everything and records
// data-subject lookups in db's access log, with an auditor's session.
func benchConsole(ctx context.Context, b *testing.B, db store.Backend) (*Console, *http.Cookie) {
	all := func(*http.Request) (auditapi.Scope, error) {
		return auditapi.Scope{All: true, SubjectQueries: true, Who: "bench auditor"}, nil
	}
	api := auditapi.New(db, auditapi.WithScope(all), auditapi.WithAccessLog(func(ctx context.Context, a auditapi.Access) error {
		return db.RecordAccess(ctx, store.Access{Who: a.Who, At: a.At, Purpose: a.Purpose, Query: a.Query})
	}))
	key := make([]byte, 32)
	c, err := New(ctx, Config{Store: db, Audit: api, Scope: all, Stewardship: benchStewardship(ctx, b, db),
		Agencies:   func() []agreements.Agency { return nil },
		SessionKey: key, SubjectHash: benchSubject,
		CheckpointKey: storetest.TestKey(b).Public().(ed25519.PublicKey)})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.sess.signIn(rec, &auth.Principal{Kind: auth.KindAuditor, Subject: "auditor", Roles: []string{auth.RoleAuditor}, Method: auth.MethodOIDC})
	return c, rec.Result().Cookies()[0]
}

// benchRequest is request i of a page: the subject report asks for a
// different person each time.
func benchRequest(b *testing.B, c *Console, cookie *http.Cookie, method, path string, i int) *http.Request {
	if method == http.MethodGet {
		req := httptest.NewRequest(method, path, nil)
		req.AddCookie(cookie)
		return req
	}
	s, err := c.sess.decode(cookie.Value)
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"identifier": {fmt.Sprint(i * 7919 % 1000)}, "purpose": {"benchmark"}, csrfField: {c.sess.csrf(s)}}
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	return req
}
