package ledger_test

import (
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// BenchmarkBatchAndLink is the client-side work of an append of 1,000
// entries: validate, normalise, group by chain, hash-link.
func BenchmarkBatchAndLink(b *testing.B) {
	es := make([]ledger.Entry, 1000)
	for i := range es {
		es[i] = sample()
		e := &es[i]
		e.Offset = int64(i)
		e.Deliveries = []ledger.Delivery{
			{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: ledger.DeliveryID("a1", e.Topic, e.Partition, e.Offset)},
			{AgreementID: "a3", Topic: "deliver.tax.a3", DeliveryID: ledger.DeliveryID("a3", e.Topic, e.Partition, e.Offset)},
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch, err := ledger.NewBatch(es)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range batch.Chains {
			ledger.Link(ledger.Head{MaxOffset: -1}, batch.Entries[c])
		}
	}
	b.ReportMetric(float64(b.N*len(es))/b.Elapsed().Seconds(), "entries/s")
}
