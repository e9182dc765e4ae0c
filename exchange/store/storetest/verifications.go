package storetest

import (
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// testVerifications: recorded verifications are read back as the newest
// result of every chain, with who asked and when; a later verification
// of one chain replaces only that chain's result.
func testVerifications(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	got, err := b.LatestVerifications(ctx)
	must(t, err, "no verification yet")
	if len(got) != 0 {
		t.Fatalf("verifications of a fresh store = %+v, want none", got)
	}
	c0, c1 := ledger.Chain{Topic: "ingress.a.x", Partition: 0}, ledger.Chain{Topic: "ingress.a.x", Partition: 1}
	t1 := baseTime.Add(time.Minute)
	t2 := t1.Add(time.Hour + 7*time.Microsecond)
	must(t, b.RecordVerification(ctx, store.Verification{By: "auditor:ines", At: t1, Chains: []store.ChainVerification{
		{Chain: c1, Entries: 5, OK: true},
		{Chain: c0, Entries: 10, OK: true},
	}}), "first verification")
	must(t, b.RecordVerification(ctx, store.Verification{By: "cli:root", At: t2, Chains: []store.ChainVerification{
		{Chain: c0, Entries: 12, OK: false, FirstBreak: "entry ingress.a.x/0 offset 3 (seq 4): hash mismatch"},
	}}), "second verification")
	got, err = b.LatestVerifications(ctx)
	must(t, err, "latest")
	want := []store.ChainVerification{
		{Chain: c0, By: "cli:root", At: t2, Entries: 12, FirstBreak: "entry ingress.a.x/0 offset 3 (seq 4): hash mismatch"},
		{Chain: c1, By: "auditor:ines", At: t1, Entries: 5, OK: true},
	}
	if len(got) != len(want) {
		t.Fatalf("latest verifications = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Chain != w.Chain || g.By != w.By || !g.At.Equal(w.At) || g.Entries != w.Entries || g.OK != w.OK || g.FirstBreak != w.FirstBreak {
			t.Errorf("latest verification %d = %+v, want %+v", i, g, w)
		}
	}
}
