package ledger_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestCleanFlag: whatever a refused entry held, its flag's text is valid
// UTF-8 without NUL and bounded, and its evidence is bounded: a flag never
// fails the transaction recording it.
func TestCleanFlag(t *testing.T) {
	long := strings.Repeat("é", ledger.MaxFlagBytes) // 2 bytes a rune: cut inside one
	f := ledger.CleanFlag(ledger.Flag{Topic: "in\x00gress.\xff", Reason: ledger.FlagInvalid, Detail: long,
		Entry: bytes.Repeat([]byte{0}, ledger.MaxFlagBytes+10)})
	if f.Topic != "in\uFFFDgress.\uFFFD" {
		t.Errorf("topic = %q, want NUL and the invalid byte replaced", f.Topic)
	}
	if !utf8.ValidString(f.Detail) || len(f.Detail) > ledger.MaxFlagBytes || len(f.Detail) < ledger.MaxFlagBytes-3 {
		t.Errorf("detail: %d bytes, valid %v; want valid UTF-8 cut to at most %d", len(f.Detail), utf8.ValidString(f.Detail), ledger.MaxFlagBytes)
	}
	if len(f.Entry) != ledger.MaxFlagBytes {
		t.Errorf("evidence: %d bytes, want %d", len(f.Entry), ledger.MaxFlagBytes)
	}
	if ok := ledger.CleanFlag(ledger.Flag{Topic: "ingress.a.x", Detail: "fine"}); ok.Topic != "ingress.a.x" || ok.Detail != "fine" {
		t.Errorf("a clean flag was changed: %+v", ok)
	}
}

// TestNewIndexBatch: invalid entries and repeats with another record are
// flagged, repeats of the same record counted, in or out of offset order;
// the first entry of a position is kept.
func TestNewIndexBatch(t *testing.T) {
	e := func(off int64, payload string) ledger.Entry {
		return ledger.Entry{Topic: "ingress.a.x", Offset: off, Decision: ledger.Dropped, PayloadHash: []byte(payload),
			DecisionTime: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	}
	bad := e(3, "p3")
	bad.Topic = ""
	b, res := ledger.NewIndexBatch([]ledger.Entry{e(1, "p1"), e(2, "p2"), e(2, "p2"), bad, e(4, "p4"), e(1, "other"), e(4, "p4")})
	c := ledger.Chain{Topic: "ingress.a.x"}
	var offs []int64
	for _, x := range b.Entries[c] {
		offs = append(offs, x.Offset)
	}
	if len(offs) != 3 || offs[0] != 1 || offs[1] != 2 || offs[2] != 4 || string(b.Entries[c][0].PayloadHash) != "p1" {
		t.Fatalf("batch offsets = %v, want [1 2 4] with the first record at 1", offs)
	}
	if res.Duplicates != 2 || len(res.Flagged) != 2 || res.Flagged[0].Reason != ledger.FlagInvalid ||
		res.Flagged[1].Reason != ledger.FlagPositionReused || res.Flagged[1].Offset != 1 {
		t.Fatalf("result = %+v, want 2 duplicates, the invalid entry and offset 1 flagged", res)
	}
}
