package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// BenchBatch is the append batch size of the ledger benchmarks.
const BenchBatch = 1000

// BenchmarkAppend appends b.N batches of BenchBatch fresh entries to b from
// `writers` goroutines, each on its own chain (as partitions are spread over
// workers), and reports entries/s. Entries are built before the timer runs.
func BenchmarkAppend(b *testing.B, s store.Backend, writers int) {
	batches := make([][][]ledger.Entry, writers)
	per := (b.N + writers - 1) / writers
	for w := range batches {
		topic := fmt.Sprintf("ingress.bench.w%d", w)
		for i := 0; i < per; i++ {
			batches[w] = append(batches[w], Entries(topic, int32(w), int64(i*BenchBatch), int64((i+1)*BenchBatch)))
		}
	}
	ctx := testCtx(b)
	var done atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for _, batch := range batches[w] {
				if done.Add(1) > int64(b.N) {
					return
				}
				if err := s.Append(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*BenchBatch)/b.Elapsed().Seconds(), "entries/s")
}

// IndexBenchBatch is the batch size of the Index benchmarks: the audit
// indexer writes 5,000–20,000 entries per call.
const IndexBenchBatch = 10_000

// BenchmarkIndex indexes b.N batches of IndexBenchBatch fresh entries of
// four chains (the partitions of one audit batch) into s from one writer,
// as the audit indexer does, and reports entries/s. Entries are built
// before the timer runs.
func BenchmarkIndex(b *testing.B, s store.Backend) {
	const chains = 4
	per := IndexBenchBatch / chains
	batches := make([][]ledger.Entry, b.N)
	for i := range batches {
		batches[i] = make([]ledger.Entry, 0, IndexBenchBatch)
		for p := int32(0); p < chains; p++ {
			batches[i] = append(batches[i], Entries("ingress.bench.index", p, int64(i*per), int64((i+1)*per))...)
		}
	}
	ctx := testCtx(b)
	b.ResetTimer()
	for _, batch := range batches {
		res, err := s.Index(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stored != len(batch) {
			b.Fatalf("index stored %d of %d entries", res.Stored, len(batch))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*IndexBenchBatch)/b.Elapsed().Seconds(), "entries/s")
}
