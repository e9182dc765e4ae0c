package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// BenchmarkLedgerAppendSQLite: batches of 1,000 entries, signed checkpoint
// per batch, synchronous=FULL commit.
//
//	go test -run '^$' -bench LedgerAppendSQLite -benchtime 100x ./exchange/store/sqlite/
func BenchmarkLedgerAppendSQLite(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), store.WithSigningKey(storetest.TestKey(b)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchmarkAppend(b, s, writers)
		})
	}
}

// BenchmarkLedgerAppendSQLiteFanOut is BenchmarkLedgerAppendSQLite with
// every entry delivered under four agreements (the suite's entries average
// 2/3 of a delivery each), ids ledger.DeliveryID as appends require: the
// per-delivery cost of the append path. Since migration 0004 that is the
// delivery's bytes in the entry's JSON list and nothing else; before, each
// delivery also cost an insert at a random place of a delivery-id index,
// which this benchmark (as BenchmarkLedgerAppendSQLiteHashedIDs, with
// hashed ids) was written to expose.
func BenchmarkLedgerAppendSQLiteFanOut(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), store.WithSigningKey(storetest.TestKey(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const topic = "ingress.bench.fanout"
	agreements := []string{"hlth-stat-01", "hlth-soc-02", "hlth-tax-03", "hlth-res-04"}
	batches := make([][]ledger.Entry, b.N)
	for i := range batches {
		batches[i] = storetest.Entries(topic, 0, int64(i*storetest.BenchBatch), int64((i+1)*storetest.BenchBatch))
		for j := range batches[i] {
			e := &batches[i][j]
			e.Decision, e.Skips = ledger.Delivered, nil
			e.Deliveries = make([]ledger.Delivery, len(agreements))
			for k, a := range agreements {
				e.Deliveries[k] = ledger.Delivery{AgreementID: a, Topic: "deliver.agency-" + a + "." + a,
					DeliveryID: ledger.DeliveryID(a, e.Topic, e.Partition, e.Offset)}
			}
		}
	}
	b.ResetTimer()
	for _, batch := range batches {
		if err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*storetest.BenchBatch)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(b.N*storetest.BenchBatch*len(agreements))/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkIndexSQLite: the audit indexer's write, batches of 10,000
// entries over four chains, signed checkpoint per chain and batch,
// synchronous=FULL commit.
//
//	go test -run '^$' -bench 'IndexSQLite$' -benchtime 50x ./exchange/store/sqlite/
func BenchmarkIndexSQLite(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), store.WithSigningKey(storetest.TestKey(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchmarkIndex(b, s)
}
