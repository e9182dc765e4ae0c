package ledger_test

import (
	"errors"
	"fmt"
	"testing"

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
