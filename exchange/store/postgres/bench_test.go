package postgres_test

import (
	"fmt"
	"testing"

	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

// BenchmarkLedgerAppendPostgres: batches of 1,000 entries, signed
// checkpoint per batch, durable commit; 1 writer and 4 writers on their own
// chains.
//
//	EXCHANGE_TEST_DATABASE_URL=… go test -run '^$' -bench LedgerAppendPostgres -benchtime 200x ./exchange/store/postgres/
func BenchmarkLedgerAppendPostgres(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := openFreshB(b, store.WithSigningKey(storetest.TestKey(b)))
			storetest.BenchmarkAppend(b, s, writers)
		})
	}
}

// BenchmarkIndexPostgres: the audit indexer's write, batches of 10,000
// entries over four chains, signed checkpoint per chain and batch, durable
// commit.
//
//	EXCHANGE_TEST_DATABASE_URL=… go test -run '^$' -bench 'IndexPostgres$' -benchtime 50x ./exchange/store/postgres/
func BenchmarkIndexPostgres(b *testing.B) {
	storetest.BenchmarkIndex(b, openFreshB(b, store.WithSigningKey(storetest.TestKey(b))))
}
