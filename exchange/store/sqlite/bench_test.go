package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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
