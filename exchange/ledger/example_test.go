package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Verify recomputes every chain a Source holds and names each break. Here a
// chain of three decisions is linked as a store links it on append, then one
// entry's decision is rewritten behind the ledger's back.
func ExampleVerify() {
	ctx := context.Background()
	c := ledger.Chain{Topic: "ingress.health.immunisations", Partition: 0}
	src := &memSource{entries: map[ledger.Chain][]ledger.Entry{}} // a store in production
	head := ledger.Head{MaxOffset: -1}
	for offset := range int64(3) {
		e := ledger.Entry{
			Topic: c.Topic, Partition: c.Partition, Offset: offset,
			Dataset: "health.immunisations", Decision: ledger.Dropped,
			DecisionTime: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		}
		head.Extend(&e) // sets Seq, PrevHash and Hash
		src.entries[c] = append(src.entries[c], e)
	}
	rep, err := ledger.Verify(ctx, src, ledger.VerifyOptions{})
	if err != nil {
		fmt.Println("verify could not run:", err)
		return
	}
	fmt.Printf("%d entries in %d chain, ok: %v\n", rep.Entries, rep.Chains, rep.OK())

	src.entries[c][1].Decision = ledger.Delivered // rewritten in the database
	rep, err = ledger.Verify(ctx, src, ledger.VerifyOptions{})
	if err != nil {
		fmt.Println("verify could not run:", err)
		return
	}
	fmt.Println("ok:", rep.OK())
	for _, b := range rep.Breaks {
		fmt.Println(b)
	}
	// Output:
	// 3 entries in 1 chain, ok: true
	// ok: false
	// entry ingress.health.immunisations/0 offset 1 (seq 2): content altered: stored hash does not match the hash recomputed from the entry
}

// A delivery id is stable across re-processing (consumers drop duplicates
// by it) and locates its source position without an index.
func ExampleDeliveryID() {
	id := ledger.DeliveryID("hlth-stat-01", "ingress.health.immunisations", 2, 1042)
	fmt.Println(id)
	partition, offset, ok := ledger.LocateDelivery(id)
	fmt.Println(partition, offset, ok)
	// Output:
	// 7119e264000000020000000000000412
	// 2 1042 true
}
