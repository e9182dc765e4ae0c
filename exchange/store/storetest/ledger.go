package storetest

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Entry returns a realistic ledger entry for (topic, partition, offset);
// the offset picks the decision, so a run of offsets mixes all three.
func Entry(topic string, partition int32, offset int64) ledger.Entry {
	dataset, _ := names.DatasetOfIngress(topic)
	e := ledger.Entry{
		Topic: topic, Partition: partition, Offset: offset, Dataset: dataset,
		KeyHash:      sum(fmt.Sprintf("key-%d", offset)),
		PayloadHash:  sum(fmt.Sprintf("payload-%s-%d-%d", topic, partition, offset)),
		SchemaID:     7,
		PlanVersion:  "plan-3",
		SubjectHash:  sum(fmt.Sprintf("subject-%d", offset%17)),
		EventTime:    baseTime.Add(time.Duration(offset) * time.Millisecond).Add(-time.Minute),
		DecisionTime: baseTime.Add(time.Duration(offset)*time.Millisecond + 123456*time.Nanosecond),
	}
	switch offset % 3 {
	case 0:
		e.Decision = ledger.Delivered
		e.Deliveries = []ledger.Delivery{
			{AgreementID: "hlth-stat-01", Topic: "deliver.statistics.hlth-stat-01", DeliveryID: ledger.DeliveryID("hlth-stat-01", topic, partition, offset)},
			{AgreementID: "hlth-soc-02", Topic: "deliver.social-services.hlth-soc-02", DeliveryID: ledger.DeliveryID("hlth-soc-02", topic, partition, offset)},
		}
		e.Skips = []ledger.Skip{{AgreementID: "hlth-tax-03", Reason: "filter"}}
		e.Reasons = []string{"quality:age_plausible"}
	case 1:
		e.Decision = ledger.Dropped
		e.Skips = []ledger.Skip{{AgreementID: "hlth-stat-01", Reason: "filter"}, {AgreementID: "hlth-tax-03", Reason: "suspended"}}
		e.KeyHash = nil
	default:
		e.Decision = ledger.Quarantined
		e.Reasons = []string{"quality:nhi_format", "freshness:stale"}
		e.EventTime = time.Time{}
		e.SchemaID = 0
	}
	return e
}

// Entries returns Entry for offsets [from, to).
func Entries(topic string, partition int32, from, to int64) []ledger.Entry {
	out := make([]ledger.Entry, 0, to-from)
	for o := from; o < to; o++ {
		out = append(out, Entry(topic, partition, o))
	}
	return out
}

// ReadChain returns a chain's stored entries in seq order.
func ReadChain(t testing.TB, b store.Backend, topic string, partition int32) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	err := b.ChainEntries(testCtx(t), ledger.Chain{Topic: topic, Partition: partition}, func(e *ledger.Entry) error {
		c := *e
		c.Reasons = append([]string(nil), e.Reasons...)
		out = append(out, c)
		return nil
	})
	must(t, err, "reading chain %s/%d", topic, partition)
	return out
}

// MustVerify runs ledger.Verify and fails t on an error.
func MustVerify(t testing.TB, b store.Backend, opts ledger.VerifyOptions) *ledger.Report {
	t.Helper()
	rep, err := ledger.Verify(testCtx(t), b, opts)
	must(t, err, "verify")
	return rep
}

// RunLedger runs the ledger conformance tests.
func RunLedger(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"ContentHashes", testContentHashes},
		{"ReappendIsNoop", testReappend},
		{"ReusedPositionRefused", testReusedPosition},
		{"PositionReader", testPositionReader},
		{"DuplicatesInBatch", testDuplicatesInBatch},
		{"ManyChainsOneBatch", testManyChains},
		{"ConcurrentAppendersDoNotFork", testConcurrentAppenders},
		{"Checkpoints", testCheckpoints},
		{"InvalidEntries", testInvalid},
		{"Query", testQuery},
		{"QueryPagination", testQueryPagination},
		{"TamperEdit", testTamperEdit},
		{"TamperEditRehashed", testTamperEditRehashed},
		{"TamperDelete", testTamperDelete},
		{"TamperDeleteTail", testTamperDeleteTail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

func normalized(e ledger.Entry) ledger.Entry {
	ledger.Normalize(&e)
	e.Seq, e.PrevHash, e.Hash = 0, nil, nil
	if len(e.Reasons) == 0 {
		e.Reasons = nil
	}
	if len(e.Deliveries) == 0 {
		e.Deliveries = nil
	}
	if len(e.Skips) == 0 {
		e.Skips = nil
	}
	for _, p := range []*[]byte{&e.KeyHash, &e.PayloadHash, &e.SubjectHash} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return e
}

func testRoundTrip(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	in := Entries("ingress.health.immunisations", 0, 0, 30)
	orig := fmt.Sprint(in)
	must(t, b.Append(ctx, in), "append")
	if fmt.Sprint(in) != orig {
		t.Fatal("Append modified the caller's entries")
	}
	got := ReadChain(t, b, "ingress.health.immunisations", 0)
	if len(got) != len(in) {
		t.Fatalf("stored %d entries, want %d", len(got), len(in))
	}
	var prev []byte
	for i, g := range got {
		if g.Seq != int64(i+1) {
			t.Fatalf("entry %d: seq %d, want %d", i, g.Seq, i+1)
		}
		if !ledger.SameHash(g.PrevHash, prev) {
			t.Fatalf("entry %d: prev hash does not link", i)
		}
		if !ledger.SameHash(g.Hash, ledger.ComputeHash(&g)) {
			t.Fatalf("entry %d: stored hash differs from recomputed", i)
		}
		prev = g.Hash
		if want, have := normalized(in[i]), normalized(g); !reflect.DeepEqual(want, have) {
			t.Fatalf("entry %d round trip:\n want %+v\n have %+v", i, want, have)
		}
	}
	if rep := MustVerify(t, b, ledger.VerifyOptions{}); !rep.OK() || rep.Entries != 30 || rep.Chains != 1 {
		t.Fatalf("verify: %+v", rep)
	}
}

// testContentHashes: deliveries carrying their agreement terms' content
// hash are stored and read back, and a chain of older entries (without)
// followed by newer ones (with) verifies.
func testContentHashes(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	const topic = "ingress.health.terms"
	in := Entries(topic, 0, 0, 12)
	for i := 6; i < len(in); i++ {
		for j := range in[i].Deliveries {
			in[i].Deliveries[j].ContentHash = fmt.Sprintf("%064x", j+1)
		}
	}
	must(t, b.Append(ctx, in[:6]), "append older entries")
	must(t, b.Append(ctx, in[6:]), "append entries with content hashes")
	got := ReadChain(t, b, topic, 0)
	if len(got) != len(in) {
		t.Fatalf("stored %d entries, want %d", len(got), len(in))
	}
	withHash := 0
	for i := range got {
		if want, have := normalized(in[i]), normalized(got[i]); !reflect.DeepEqual(want, have) {
			t.Fatalf("entry %d round trip:\n want %+v\n have %+v", i, want, have)
		}
		for _, d := range got[i].Deliveries {
			if d.ContentHash != "" {
				withHash++
			}
		}
	}
	if withHash != 4 { // offsets 6 and 9 deliver to two agreements each
		t.Fatalf("%d deliveries read back with a content hash, want 4", withHash)
	}
	if rep := MustVerify(t, b, ledger.VerifyOptions{}); !rep.OK() || rep.Entries != int64(len(in)) {
		t.Fatalf("verify: %+v", rep)
	}
}

func testReappend(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	const topic = "ingress.tax.returns"
	must(t, b.Append(ctx, Entries(topic, 2, 100, 150)), "first append")
	before := ReadChain(t, b, topic, 2)
	// A retry after an unknown outcome, and a re-processed batch.
	must(t, b.Append(ctx, Entries(topic, 2, 100, 150)), "re-append")
	must(t, b.Append(ctx, Entries(topic, 2, 120, 130)), "re-append subset")
	after := ReadChain(t, b, topic, 2)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("re-append changed the chain: %d entries before, %d after", len(before), len(after))
	}
	// Overlap: half old, half new; only the new half extends the chain.
	must(t, b.Append(ctx, Entries(topic, 2, 140, 170)), "overlapping append")
	got := ReadChain(t, b, topic, 2)
	if len(got) != 70 {
		t.Fatalf("after overlap: %d entries, want 70", len(got))
	}
	for i, e := range got {
		if e.Offset != int64(100+i) || e.Seq != int64(i+1) {
			t.Fatalf("entry %d: offset %d seq %d, want offset %d seq %d", i, e.Offset, e.Seq, 100+i, i+1)
		}
	}
	// Re-processed records that changed decision (a new plan) are still no-ops.
	changed := Entry(topic, 2, 120)
	changed.Decision, changed.Deliveries = ledger.Dropped, nil
	must(t, b.Append(ctx, []ledger.Entry{changed}), "re-append changed decision")
	if n := len(ReadChain(t, b, topic, 2)); n != 70 {
		t.Fatalf("after changed re-append: %d entries, want 70", n)
	}
	if rep := MustVerify(t, b, ledger.VerifyOptions{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Breaks)
	}
}

// testReusedPosition: a different record at a stored position (the topic
// was deleted and created again) is refused with a PositionReusedError naming
// the position and the chain's highest audited offset, the whole batch with
// it, and the chain is untouched.
func testReusedPosition(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	const topic = "ingress.tax.returns"
	must(t, b.Append(ctx, Entries(topic, 1, 0, 20)), "first append")
	before := ReadChain(t, b, topic, 1)
	batch := Entries(topic, 1, 15, 30) // 15..19 stored, 20..29 new
	batch[2].PayloadHash = sum("another record at offset 17")
	err := b.Append(ctx, batch)
	if !errors.Is(err, ledger.ErrPositionReused) {
		t.Fatalf("append of another record at a stored position: %v, want ErrPositionReused", err)
	}
	var reused *ledger.PositionReusedError
	if !errors.As(err, &reused) {
		t.Fatalf("append of another record at a stored position: %T, want a *ledger.PositionReusedError", err)
	}
	want := ledger.PositionReusedError{Chain: ledger.Chain{Topic: topic, Partition: 1}, Offset: 17, HighestAudited: 19,
		StoredHash: Entry(topic, 1, 17).PayloadHash, PayloadHash: batch[2].PayloadHash}
	if !reflect.DeepEqual(*reused, want) {
		t.Errorf("PositionReusedError = %+v, want %+v", *reused, want)
	}
	for _, want := range []string{topic + "/1 offset 17", "deleted and created again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if after := ReadChain(t, b, topic, 1); !reflect.DeepEqual(before, after) {
		t.Fatalf("refused batch changed the chain: %d entries before, %d after", len(before), len(after))
	}
	// The same batch with the stored record is a re-processing.
	must(t, b.Append(ctx, Entries(topic, 1, 15, 30)), "re-append with new entries")
	if n := len(ReadChain(t, b, topic, 1)); n != 30 {
		t.Fatalf("after the re-append: %d entries, want 30", n)
	}
}

// testPositionReader: HighestOffset and PayloadHashes answer from the
// stored entries of one chain only.
func testPositionReader(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	const topic = "ingress.health.immunisations"
	c := ledger.Chain{Topic: topic, Partition: 0}
	if got, err := b.HighestOffset(ctx, c); err != nil || got != -1 {
		t.Fatalf("HighestOffset of an empty ledger = %d, %v; want -1", got, err)
	}
	if got, err := b.PayloadHashes(ctx, c, 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("PayloadHashes of an empty ledger = %v, %v; want none", got, err)
	}
	entries := append(Entries(topic, 0, 10, 20), Entries(topic, 0, 25, 30)...)
	entries = append(entries, Entries(topic, 1, 0, 100)...)
	must(t, b.Append(ctx, entries), "append")
	if got, err := b.HighestOffset(ctx, c); err != nil || got != 29 {
		t.Fatalf("HighestOffset = %d, %v; want 29", got, err)
	}
	if got, err := b.HighestOffset(ctx, ledger.Chain{Topic: topic, Partition: 7}); err != nil || got != -1 {
		t.Fatalf("HighestOffset of a chain without entries = %d, %v; want -1", got, err)
	}
	got, err := b.PayloadHashes(ctx, c, 15, 27)
	must(t, err, "PayloadHashes")
	want := map[int64][]byte{}
	for o := int64(15); o <= 27; o++ {
		if o < 20 || o >= 25 {
			want[o] = Entry(topic, 0, o).PayloadHash
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PayloadHashes(15, 27): %d offsets, want %d (%v)", len(got), len(want), got)
	}
	for _, r := range [][2]int64{{-1, 5}, {5, 4}, {0, ledger.MaxPositionRange}} {
		if _, err := b.PayloadHashes(ctx, c, r[0], r[1]); err == nil {
			t.Errorf("PayloadHashes(%d, %d) accepted", r[0], r[1])
		}
	}
}

func testDuplicatesInBatch(t *testing.T, h Harness) {
	b := h.Open(t)
	batch := append(Entries("ingress.a.b", 0, 0, 5), Entries("ingress.a.b", 0, 3, 8)...)
	must(t, b.Append(testCtx(t), batch), "append")
	if got := ReadChain(t, b, "ingress.a.b", 0); len(got) != 8 {
		t.Fatalf("stored %d entries, want 8 (one per offset)", len(got))
	}
}

func testManyChains(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	var batch []ledger.Entry
	for p := int32(0); p < 4; p++ {
		batch = append(batch, Entries("ingress.health.visits", p, 0, 10)...)
		batch = append(batch, Entries("ingress.social-services.cases", p, 0, 5)...)
	}
	must(t, b.Append(ctx, batch), "append")
	must(t, b.Append(ctx, batch), "re-append")
	chains, err := b.Chains(ctx)
	must(t, err, "chains")
	if len(chains) != 8 {
		t.Fatalf("%d chains, want 8: %v", len(chains), chains)
	}
	rep := MustVerify(t, b, ledger.VerifyOptions{})
	if !rep.OK() || rep.Entries != 60 || rep.Chains != 8 {
		t.Fatalf("verify: %+v", rep)
	}
}

// testConcurrentAppenders: several writers append overlapping ranges of one
// partition at once, as after a rebalance where the old owner has not yet
// noticed. The chain must hold each offset once, seq 1..n without a fork.
func testConcurrentAppenders(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	const topic, writers, batches, size = "ingress.health.labs", 4, 10, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				// Writers overlap: writer w starts w*size/2 offsets later.
				from := int64(i*size + w*size/2)
				if err := b.Append(ctx, Entries(topic, 0, from, from+size)); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := ReadChain(t, b, topic, 0)
	seen := map[int64]bool{}
	for i, e := range got {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d: chain forked or skipped", i, e.Seq)
		}
		if seen[e.Offset] {
			t.Fatalf("offset %d stored twice", e.Offset)
		}
		seen[e.Offset] = true
	}
	want := (batches-1)*size + (writers-1)*size/2 + size
	if len(got) != want {
		t.Fatalf("%d entries, want %d", len(got), want)
	}
	if rep := MustVerify(t, b, ledger.VerifyOptions{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Breaks)
	}
}

func testCheckpoints(t *testing.T, h Harness) {
	key := TestKey(t)
	b := h.Open(t, store.WithSigningKey(key))
	ctx := testCtx(t)
	for i := int64(0); i < 3; i++ {
		must(t, b.Append(ctx, Entries("ingress.x.y", 1, i*10, i*10+10)), "append")
	}
	must(t, b.Append(ctx, Entries("ingress.x.y", 1, 0, 10)), "re-append") // writes nothing, signs nothing
	cps, err := b.ChainCheckpoints(ctx, ledger.Chain{Topic: "ingress.x.y", Partition: 1})
	must(t, err, "checkpoints")
	if len(cps) != 3 || cps[0].Seq != 10 || cps[2].Seq != 30 {
		t.Fatalf("checkpoints %+v, want seq 10, 20, 30", cps)
	}
	latest, ok, err := b.LatestCheckpoint(ctx, ledger.Chain{Topic: "ingress.x.y", Partition: 1})
	must(t, err, "latest checkpoint")
	if !ok || latest.Seq != 30 || !bytes.Equal(latest.Signature, cps[2].Signature) {
		t.Fatalf("latest checkpoint %+v (ok %v), want seq 30", latest, ok)
	}
	chains, err := b.EntryChains(ctx)
	must(t, err, "entry chains")
	if len(chains) != 1 || chains[0] != (ledger.Chain{Topic: "ingress.x.y", Partition: 1}) {
		t.Fatalf("entry chains %v, want ingress.x.y/1", chains)
	}
	if _, ok, err := b.LatestCheckpoint(ctx, ledger.Chain{Topic: "ingress.none", Partition: 0}); err != nil || ok {
		t.Fatalf("latest checkpoint of a chain without any: ok %v, err %v", ok, err)
	}
	var all []ledger.Checkpoint
	must(t, b.Checkpoints(ctx, func(cp *ledger.Checkpoint) error { all = append(all, *cp); return nil }), "all checkpoints")
	if len(all) != 3 {
		t.Fatalf("Checkpoints returned %d, want 3", len(all))
	}
	pub := key.Public().(ed25519.PublicKey)
	if rep := MustVerify(t, b, ledger.VerifyOptions{PublicKey: pub, External: all}); !rep.OK() || rep.Checkpoints != 3 || rep.External != 3 {
		t.Fatalf("verify with key: %+v", rep)
	}
	other := TestKey(t).Public().(ed25519.PublicKey)
	if rep := MustVerify(t, b, ledger.VerifyOptions{PublicKey: other}); rep.OK() {
		t.Fatal("verify with another key passed")
	}
	// Checkpoint interval: every 25 entries.
	b2 := h.Open(t, store.WithSigningKey(key), store.WithCheckpointEvery(25))
	for i := int64(0); i < 6; i++ {
		must(t, b2.Append(ctx, Entries("ingress.x.y", 1, i*10, i*10+10)), "append")
	}
	cps, err = b2.ChainCheckpoints(ctx, ledger.Chain{Topic: "ingress.x.y", Partition: 1})
	must(t, err, "checkpoints")
	if len(cps) != 2 || cps[0].Seq != 30 || cps[1].Seq != 60 {
		t.Fatalf("checkpoints every 25: %+v, want seq 30 and 60", cps)
	}
}

func testInvalid(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	for name, mut := range map[string]func(*ledger.Entry){
		"empty topic":     func(e *ledger.Entry) { e.Topic = "" },
		"zero time":       func(e *ledger.Entry) { e.DecisionTime = time.Time{} },
		"bad decision":    func(e *ledger.Entry) { e.Decision = "maybe" },
		"NUL in reason":   func(e *ledger.Entry) { e.Reasons = []string{"a\x00b"} },
		"invalid UTF-8":   func(e *ledger.Entry) { e.Dataset = "\xff\xfe" },
		"huge hash":       func(e *ledger.Entry) { e.KeyHash = make([]byte, 1000) },
		"negative offset": func(e *ledger.Entry) { e.Offset = -1 },
	} {
		e := Entry("ingress.a.b", 0, 1)
		mut(&e)
		err := b.Append(ctx, []ledger.Entry{Entry("ingress.a.b", 0, 0), e})
		if !errors.Is(err, ledger.ErrInvalidEntry) {
			t.Errorf("%s: err = %v, want ErrInvalidEntry", name, err)
		}
	}
	if got := ReadChain(t, b, "ingress.a.b", 0); len(got) != 0 {
		t.Fatalf("an invalid batch stored %d entries", len(got))
	}
}

// tamperSetup writes 20 entries in one chain and returns the backend.
func tamperSetup(t *testing.T, h Harness) (store.Backend, ed25519.PublicKey) {
	key := TestKey(t)
	b := h.Open(t, store.WithSigningKey(key))
	ctx := testCtx(t)
	must(t, b.Append(ctx, Entries("ingress.health.immunisations", 3, 1000, 1010)), "append")
	must(t, b.Append(ctx, Entries("ingress.health.immunisations", 3, 1010, 1020)), "append")
	must(t, b.Append(ctx, Entries("ingress.tax.returns", 0, 0, 5)), "append")
	if rep := MustVerify(t, b, ledger.VerifyOptions{PublicKey: key.Public().(ed25519.PublicKey)}); !rep.OK() {
		t.Fatalf("intact ledger does not verify: %v", rep.Breaks)
	}
	return b, key.Public().(ed25519.PublicKey)
}

func wantOneBreak(t *testing.T, b store.Backend, pub ed25519.PublicKey, offset, seq int64, contains string) {
	t.Helper()
	rep := MustVerify(t, b, ledger.VerifyOptions{PublicKey: pub})
	if len(rep.Breaks) != 1 {
		t.Fatalf("want exactly one break, got %d: %v", len(rep.Breaks), rep.Breaks)
	}
	br := rep.Breaks[0]
	if br.Topic != "ingress.health.immunisations" || br.Partition != 3 || br.Offset != offset || br.Seq != seq || !strings.Contains(br.Problem, contains) {
		t.Fatalf("break %q, want offset %d seq %d %q", br.String(), offset, seq, contains)
	}
	t.Logf("verify: %s", br)
}

func testTamperEdit(t *testing.T, h Harness) {
	b, pub := tamperSetup(t, h)
	h.Exec(t, b, `UPDATE ledger_entries SET decision = 'delivered' WHERE `+h.entryWhere(),
		"ingress.health.immunisations", int32(3), int64(1006))
	wantOneBreak(t, b, pub, 1006, 7, "content altered")
}

func testTamperEditRehashed(t *testing.T, h Harness) {
	b, pub := tamperSetup(t, h)
	// An editor who recomputes the edited entry's own hash.
	es := ReadChain(t, b, "ingress.health.immunisations", 3)
	e := es[4]
	e.PlanVersion = "plan-forged"
	e.Hash = ledger.ComputeHash(&e)
	h.Exec(t, b, `UPDATE ledger_entries SET plan_version = $4, hash = $5 WHERE `+h.entryWhere(),
		e.Topic, e.Partition, e.Offset, e.PlanVersion, e.Hash)
	wantOneBreak(t, b, pub, e.Offset, e.Seq, "rehashed")
}

func testTamperDelete(t *testing.T, h Harness) {
	b, pub := tamperSetup(t, h)
	h.Exec(t, b, `DELETE FROM ledger_entries WHERE `+h.entryWhere(),
		"ingress.health.immunisations", int32(3), int64(1012))
	wantOneBreak(t, b, pub, -1, 13, "between offset 1011 and offset 1013")
}

func testTamperDeleteTail(t *testing.T, h Harness) {
	b, pub := tamperSetup(t, h)
	h.Exec(t, b, `DELETE FROM ledger_entries WHERE `+h.entryWhere(),
		"ingress.health.immunisations", int32(3), int64(1019))
	wantOneBreak(t, b, pub, -1, 20, "beyond the last entry")
}
