package ledger_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestPositionReusedError: the typed error keeps the message operators and
// logs have always seen, matches the sentinel through any wrapping, and
// hands its fields to errors.As.
func TestPositionReusedError(t *testing.T) {
	reused := &ledger.PositionReusedError{
		Chain: ledger.Chain{Topic: "ingress.tax.returns", Partition: 1}, Offset: 17, HighestAudited: 19,
		StoredHash: []byte{0xab, 0xcd}, PayloadHash: []byte{0x01},
	}
	const msg = "source position already audited for a different record: ingress.tax.returns/1 offset 17: " +
		"the ledger's entry has payload hash abcd, this record 01 (was the topic deleted and created again?)"
	if reused.Error() != msg {
		t.Errorf("Error() = %q\nwant      %q", reused.Error(), msg)
	}
	err := fmt.Errorf("appending batch: %w", reused)
	if !errors.Is(err, ledger.ErrPositionReused) {
		t.Errorf("errors.Is(%v, ErrPositionReused) = false", err)
	}
	var got *ledger.PositionReusedError
	if !errors.As(err, &got) || got.Chain.Partition != 1 || got.Offset != 17 || got.HighestAudited != 19 {
		t.Errorf("errors.As = %+v, want the error's fields", got)
	}
	if errors.Is(fmt.Errorf("x: %w", ledger.ErrInvalidEntry), ledger.ErrPositionReused) {
		t.Error("another ledger error matches ErrPositionReused")
	}
}

// TestBatchFresh: what a store appends of a batch given what it holds at
// those offsets: new offsets and nothing else; the same record again is
// dropped; another record at a stored offset refuses the whole chain.
func TestBatchFresh(t *testing.T) {
	c := ledger.Chain{Topic: "ingress.tax.returns", Partition: 1}
	var es []ledger.Entry
	for off := int64(10); off < 14; off++ {
		es = append(es, ledger.Entry{Topic: c.Topic, Partition: c.Partition, Offset: off, Decision: ledger.Dropped,
			PayloadHash: []byte{byte(off)}, DecisionTime: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	}
	b, err := ledger.NewBatch(es)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := b.Fresh(c, map[int64][]byte{10: {10}, 11: {11}}, 11)
	if err != nil || len(fresh) != 2 || fresh[0].Offset != 12 || fresh[1].Offset != 13 {
		t.Fatalf("Fresh over stored 10 and 11 = %v, %v; want offsets 12 and 13", fresh, err)
	}
	_, err = b.Fresh(c, map[int64][]byte{10: {10}, 11: {0xff}}, 15)
	var reused *ledger.PositionReusedError
	if !errors.As(err, &reused) || reused.Offset != 11 || reused.HighestAudited != 15 || reused.Chain != c {
		t.Fatalf("Fresh with another record stored at 11 = %v, want a PositionReusedError at 11, highest 15", err)
	}
}
