package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// RunIndex runs the conformance tests of ledger.Index and ledger.FlagReader.
func RunIndex(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"CountsAndFlags", testIndexCounts},
		{"FlaggedEntryLeavesChainVerifiable", testIndexChainVerifies},
		{"FlagsNewestFirst", testIndexFlagsNewestFirst},
		{"DuplicatesOnlyStoreNothing", testIndexDuplicatesOnly},
		{"FailedCallStoresNothing", testIndexAtomic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// stepClock is a settable store clock.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// evidence is what a flag of e must carry: its canonical encoding without
// chain fields.
func evidence(e ledger.Entry) []byte {
	n := normalized(e)
	return ledger.Canonical(&n)
}

// wantFlag checks one flag's position, reason, detail and evidence.
func wantFlag(t *testing.T, f ledger.Flag, e ledger.Entry, reason string, detail ...string) {
	t.Helper()
	if f.Topic != e.Topic || f.Partition != e.Partition || f.Offset != e.Offset || f.Reason != reason {
		t.Errorf("flag = %s/%d@%d %q, want %s/%d@%d %q", f.Topic, f.Partition, f.Offset, f.Reason, e.Topic, e.Partition, e.Offset, reason)
	}
	for _, d := range detail {
		if !strings.Contains(f.Detail, d) {
			t.Errorf("flag %s/%d@%d detail %q does not say %q", f.Topic, f.Partition, f.Offset, f.Detail, d)
		}
	}
	if !bytes.Equal(f.Entry, evidence(e)) {
		t.Errorf("flag %s/%d@%d evidence is not the entry's canonical encoding", f.Topic, f.Partition, f.Offset)
	}
}

// testIndexCounts: one call mixing new entries, stored ones, a stored
// position with another record, an invalid entry and repeats inside the
// call reports each in its count, flags the refused with the store's clock
// and chains the rest.
func testIndexCounts(t *testing.T, h Harness) {
	clock := &stepClock{t: baseTime.Add(time.Hour)}
	b := h.Open(t, store.WithClock(clock.now))
	ctx := testCtx(t)
	const topic = "ingress.tax.returns"
	res, err := b.Index(ctx, Entries(topic, 1, 0, 20))
	must(t, err, "first index")
	if res.Stored != 20 || res.Duplicates != 0 || len(res.Flagged) != 0 {
		t.Fatalf("first index = %+v, want 20 stored", res)
	}
	batch := Entries(topic, 1, 15, 30) // 15..19 stored, 20..29 new
	batch[2].PayloadHash = sum("another record at offset 17")
	invalid := &batch[10] // offset 25
	invalid.Decision = "shredded"
	again := Entry(topic, 1, 22) // a repeat in the call, same record
	other := Entry(topic, 1, 23) // a repeat in the call, another record
	other.PayloadHash = sum("another record at offset 23")
	batch = append(batch, again, other)
	clock.set(baseTime.Add(2 * time.Hour))
	res, err = b.Index(ctx, batch)
	must(t, err, "index of a mixed batch")
	// Stored: 20..29 but 25; duplicates: 15, 16, 18, 19 and the repeat of 22.
	if res.Stored != 9 || res.Duplicates != 5 || len(res.Flagged) != 3 {
		t.Fatalf("mixed index = stored %d, duplicates %d, %d flags; want 9, 5, 3", res.Stored, res.Duplicates, len(res.Flagged))
	}
	byOffset := map[int64]ledger.Flag{}
	for _, f := range res.Flagged {
		byOffset[f.Offset] = f
		if !f.FlaggedAt.Equal(clock.now()) {
			t.Errorf("flag at offset %d: FlaggedAt %v, want the store clock %v", f.Offset, f.FlaggedAt, clock.now())
		}
	}
	wantFlag(t, byOffset[25], *invalid, ledger.FlagInvalid, "shredded", ledger.ErrInvalidEntry.Error())
	wantFlag(t, byOffset[17], batch[2], ledger.FlagPositionReused, topic+"/1 offset 17", ledger.ErrPositionReused.Error())
	wantFlag(t, byOffset[23], other, ledger.FlagPositionReused, topic+"/1 offset 23")
	chain := ReadChain(t, b, topic, 1)
	if len(chain) != 29 {
		t.Fatalf("chain holds %d entries, want 29", len(chain))
	}
	for _, e := range chain {
		if e.Offset == 25 {
			t.Errorf("the invalid entry was chained")
		}
		if want := Entry(topic, 1, e.Offset); !bytes.Equal(e.PayloadHash, want.PayloadHash) {
			t.Errorf("offset %d holds payload hash %x, want the first record's %x", e.Offset, e.PayloadHash, want.PayloadHash)
		}
	}
	stored, total, err := b.Flags(ctx, 10)
	must(t, err, "listing flags")
	if total != 3 || len(stored) != 3 {
		t.Fatalf("stored flags: %d listed, %d in all; want 3", len(stored), total)
	}
}

// testIndexChainVerifies: an entry flagged in the middle of a chain is
// absent and the chain, with its signed checkpoints, verifies.
func testIndexChainVerifies(t *testing.T, h Harness) {
	key := TestKey(t)
	b := h.Open(t, store.WithSigningKey(key), store.WithCheckpointEvery(4))
	ctx := testCtx(t)
	const topic = "ingress.health.immunisations"
	must(t, b.Append(ctx, Entries(topic, 0, 0, 5)), "append 0..4")
	batch := Entries(topic, 0, 5, 15)
	batch[3].DecisionTime = time.Time{} // offset 8: invalid
	res, err := b.Index(ctx, batch)
	must(t, err, "index 5..14")
	if res.Stored != 9 || len(res.Flagged) != 1 || res.Flagged[0].Offset != 8 {
		t.Fatalf("index = %+v, want 9 stored and offset 8 flagged", res)
	}
	chain := ReadChain(t, b, topic, 0)
	var offsets []int64
	for _, e := range chain {
		offsets = append(offsets, e.Offset)
	}
	if want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}; !reflect.DeepEqual(offsets, want) {
		t.Fatalf("chain offsets = %v, want %v", offsets, want)
	}
	rep := MustVerify(t, b, ledger.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)})
	if !rep.OK() || rep.Entries != 14 || rep.Checkpoints == 0 {
		t.Fatalf("verify = %+v, want 14 entries, checkpoints, no break", rep)
	}
}

// testIndexFlagsNewestFirst: flags recorded by Index and RecordFlags are
// listed newest first with what they carried, a malformed message's
// without an entry position; the total counts them all.
func testIndexFlagsNewestFirst(t *testing.T, h Harness) {
	clock := &stepClock{t: baseTime}
	b := h.Open(t, store.WithClock(clock.now))
	ctx := testCtx(t)
	if _, _, err := b.Flags(ctx, 0); err == nil {
		t.Errorf("Flags with limit 0 was accepted")
	}
	flags, total, err := b.Flags(ctx, 5)
	if err != nil || len(flags) != 0 || total != 0 {
		t.Fatalf("flags of a fresh store = %+v, %d, %v; want none", flags, total, err)
	}
	raw := []byte("\x00not an audit batch")
	must(t, b.RecordFlags(ctx, []ledger.Flag{{Reason: ledger.FlagMalformed, Detail: "exchange.audit/3@41: bad magic", Entry: raw}}), "record a malformed flag")
	clock.set(baseTime.Add(time.Minute))
	bad := Entry("ingress.a.x", 0, 7)
	bad.Reasons = []string{"nul\x00inside"}
	_, err = b.Index(ctx, []ledger.Entry{bad})
	must(t, err, "index of an invalid entry")
	clock.set(baseTime.Add(2 * time.Minute))
	at := baseTime.Add(30 * time.Second)
	must(t, b.RecordFlags(ctx, []ledger.Flag{{Reason: ledger.FlagMalformed, Detail: "exchange.audit/0@9: truncated", FlaggedAt: at}}), "record a dated flag")

	flags, total, err = b.Flags(ctx, 10)
	must(t, err, "listing flags")
	if total != 3 || len(flags) != 3 {
		t.Fatalf("flags: %d listed, %d in all; want 3", len(flags), total)
	}
	wantFlag(t, flags[0], bad, ledger.FlagInvalid, "not UTF-8 or holds NUL")
	if !flags[0].FlaggedAt.Equal(baseTime.Add(time.Minute)) {
		t.Errorf("newest flag at %v, want %v", flags[0].FlaggedAt, baseTime.Add(time.Minute))
	}
	for i, want := range []struct {
		detail string
		at     time.Time
		entry  []byte
	}{{"exchange.audit/0@9: truncated", at, nil}, {"exchange.audit/3@41: bad magic", baseTime, raw}} {
		f := flags[i+1]
		if f.Reason != ledger.FlagMalformed || f.Detail != want.detail || !f.FlaggedAt.Equal(want.at) ||
			f.Topic != "" || f.Offset != 0 || !bytes.Equal(f.Entry, want.entry) {
			t.Errorf("flag %d = %+v, want malformed %q at %v", i+1, f, want.detail, want.at)
		}
	}
	flags, total, err = b.Flags(ctx, 1)
	must(t, err, "listing one flag")
	if total != 3 || len(flags) != 1 || flags[0].Reason != ledger.FlagInvalid {
		t.Fatalf("Flags(1) = %+v, total %d; want the newest, total 3", flags, total)
	}
}

// testIndexDuplicatesOnly: a call with only stored entries counts them,
// stores nothing and moves no chain head or checkpoint.
func testIndexDuplicatesOnly(t *testing.T, h Harness) {
	b := h.Open(t, store.WithSigningKey(TestKey(t)), store.WithCheckpointEvery(1))
	ctx := testCtx(t)
	const topic = "ingress.health.immunisations"
	c := ledger.Chain{Topic: topic, Partition: 2}
	_, err := b.Index(ctx, Entries(topic, 2, 0, 10))
	must(t, err, "first index")
	before := ReadChain(t, b, topic, 2)
	cps, err := b.ChainCheckpoints(ctx, c)
	must(t, err, "checkpoints")
	res, err := b.Index(ctx, append(Entries(topic, 2, 3, 10), Entry(topic, 2, 4)))
	must(t, err, "index of stored entries")
	if res.Stored != 0 || res.Duplicates != 8 || len(res.Flagged) != 0 {
		t.Fatalf("duplicates-only index = %+v, want 8 duplicates", res)
	}
	if after := ReadChain(t, b, topic, 2); !reflect.DeepEqual(before, after) {
		t.Fatalf("duplicates-only index changed the chain")
	}
	if after, err := b.ChainCheckpoints(ctx, c); err != nil || len(after) != len(cps) {
		t.Fatalf("checkpoints: %d before, %d after (%v)", len(cps), len(after), err)
	}
	if _, total, err := b.Flags(ctx, 1); err != nil || total != 0 {
		t.Fatalf("flags after duplicates: %d, %v; want none", total, err)
	}
}

// testIndexAtomic: a call that cannot be written (cancelled context,
// closed store) fails and stores nothing: neither its entries nor its flags.
func testIndexAtomic(t *testing.T, h Harness) {
	b := h.Open(t)
	const topic = "ingress.tax.returns"
	batch := Entries(topic, 0, 0, 10)
	batch[4].Decision = "shredded"
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := b.Index(cancelled, batch); err == nil {
		t.Fatalf("index with a cancelled context = %+v, nil; want an error", res)
	}
	if n := len(ReadChain(t, b, topic, 0)); n != 0 {
		t.Errorf("a failed index stored %d entries", n)
	}
	if _, total, err := b.Flags(testCtx(t), 1); err != nil || total != 0 {
		t.Errorf("a failed index stored %d flags (%v)", total, err)
	}
	closed := h.Open(t)
	must(t, closed.Close(), "close")
	if res, err := closed.Index(testCtx(t), batch); err == nil {
		t.Fatalf("index into a closed store = %+v, nil; want an error", res)
	}
}
