package indexer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// BenchmarkIndexer measures indexing a backlog of 200k audit entries (10
// source chains, 500 entries per audit message, 3 audit partitions) from
// the embedded broker into SQLite, and into PostgreSQL with
// EXCHANGE_TEST_DATABASE_URL, from the indexer's start to its group having
// committed every message. Run it alone (-benchtime=1x is enough):
//
//	go test -run '^$' -bench BenchmarkIndexer -benchtime=1x ./exchange/indexer/
func BenchmarkIndexer(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchIndexer(b, func() string { return "sqlite://" + filepath.Join(b.TempDir(), "exchange.db") }, 1)
	})
	b.Run("postgres", func(b *testing.B) {
		super := os.Getenv(storetest.PostgresEnv)
		if super == "" {
			b.Skipf("%s is not set", storetest.PostgresEnv)
		}
		for _, w := range []int{1, 4} {
			b.Run(fmt.Sprintf("writers=%d", w), func(b *testing.B) {
				benchIndexer(b, func() string { return storetest.CreateDatabase(b, super) }, w)
			})
		}
	})
}

func benchIndexer(b *testing.B, dbURL func() string, writers int) {
	const (
		chains   = 10
		perChain = 20000
		per      = 500
	)
	var total time.Duration
	var writes uint64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b, dbURL())
		for c := int32(0); c < chains; c++ {
			e.publish(entries(source, c, 0, perChain), per)
		}
		lw := NewLagWatch(e.clients, testGroup, LagLogger(quiet))
		b.StartTimer()
		start := time.Now()
		r := e.startWith(nil, Config{Writers: writers})
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Minute)
		err := lw.WaitCaughtUp(ctx)
		cancel()
		total += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("the index did not catch up: %v", err)
		}
		r.stop(b)
		var h dto.Metric
		if err := r.metrics.batch.Write(&h); err != nil {
			b.Fatal(err)
		}
		writes += h.GetHistogram().GetSampleCount()
		if got := e.verify(); got != chains*perChain {
			b.Fatalf("index holds %d entries, want %d", got, chains*perChain)
		}
	}
	b.ReportMetric(float64(b.N*chains*perChain)/total.Seconds(), "entries/s")
	b.ReportMetric(float64(b.N*chains*perChain)/float64(writes), "entries/write")
}
