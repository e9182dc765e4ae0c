package sqlite_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// BenchmarkLedgerAppendSQLiteHashedIDs is BenchmarkLedgerAppendSQLite with
// delivery ids shaped like the exchange's (32 hex digits of a SHA-256, see
// exchange.DeliveryID), which land anywhere in the delivery-id index, where
// the suite's readable ids arrive in order.
func BenchmarkLedgerAppendSQLiteHashedIDs(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"), store.WithSigningKey(storetest.TestKey(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batches := make([][]ledger.Entry, b.N)
	for i := range batches {
		batches[i] = storetest.Entries("ingress.bench.hashed", 0, int64(i*storetest.BenchBatch), int64((i+1)*storetest.BenchBatch))
		for j := range batches[i] {
			for k := range batches[i][j].Deliveries {
				d := &batches[i][j].Deliveries[k]
				sum := sha256.Sum256([]byte(d.DeliveryID))
				d.DeliveryID = hex.EncodeToString(sum[:16])
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
}
