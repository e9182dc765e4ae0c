package console_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/console"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// checkSkippedTotals: after demo traffic with a revoked agreement (and
// the examples' suspended one), the overview's "skipped (all reasons)"
// today equals the skipped deliveries the ledger holds for today (the
// test's own store query), and the quality page's skips by reason give
// the revoked agreement exactly the ledger's revoked skips.
func checkSkippedTotals(ctx context.Context, t *testing.T, b *browser, s *stack) {
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	all, revoked := 0, 0
	s.each(ctx, t, ledger.Query{From: today}, func(e ledger.Entry) {
		all += len(e.Skips)
		for _, sk := range e.Skips {
			if sk.AgreementID == statsAgreement && sk.Reason == policy.SkipRevoked {
				revoked++
			}
		}
	})
	if revoked == 0 {
		t.Fatalf("the ledger holds no skip of %s as revoked after the revocation applied", statsAgreement)
	}
	if all == revoked {
		t.Fatalf("the ledger holds only revoked skips (%d); the demo's other skips (suspended, stale, filter) are missing", all)
	}
	b.signIn(t, "auditor.token")
	defer b.signOut(t)
	// The aggregator flushes every 100 ms: read the page until it agrees
	// (or the wait ends and the last value is reported).
	var got string
	want := strconv.Itoa(all)
	deadline := time.Now().Add(20 * time.Second)
	for got != want && time.Now().Before(deadline) {
		b.open(t, console.Prefix)
		got = b.text(t, "#skipped")
	}
	if got != want {
		t.Errorf("overview's skipped today = %s, want the ledger's %d skipped deliveries today", got, all)
	}
	if label := b.text(t, "#totals div:nth-child(3) dt"); label != "Skipped (all reasons)" {
		t.Errorf("overview labels the skipped total %q", label)
	}
	b.shot(t, "overview-skipped")

	b.open(t, console.Prefix+"quality?days=7")
	// Cells by row: dataset, agreement, reason, skipped.
	cells, n := b.texts(t, "#skips tbody td"), ""
	for i := 0; i+3 < len(cells); i += 4 {
		if cells[i+1] == statsAgreement && cells[i+2] == policy.SkipRevoked {
			n = cells[i+3]
		}
	}
	if n != strconv.Itoa(revoked) {
		t.Errorf("quality page's revoked skips of %s: %q, want %d (cells %v)", statsAgreement, n, revoked, cells)
	}
	b.shot(t, "quality-skips")
}
