package ledger_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// chainless is e with its chain fields cleared: what the audit topic carries.
func chainless(e ledger.Entry) ledger.Entry {
	e.Seq, e.PrevHash, e.Hash = 0, nil, nil
	return e
}

// TestAuditBatchRoundTrip: v1 and v2 entries, empty lists and zero times
// come back with the same canonical encoding; chain fields are not carried.
func TestAuditBatchRoundTrip(t *testing.T) {
	v1 := sample()
	v1.PrevHash, v1.Hash = []byte{9, 9}, []byte{8}
	v2 := sample()
	v2.Offset++
	v2.Deliveries = []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: "d1", ContentHash: "c1"}}
	bare := ledger.Entry{Topic: "ingress.x", Offset: 0, Decision: ledger.Dropped, DecisionTime: v1.DecisionTime}
	in := []ledger.Entry{v1, v2, bare}
	got, err := ledger.ParseAuditBatch(ledger.AppendAuditBatch(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d entries back, want %d", len(got), len(in))
	}
	for i := range in {
		want := chainless(in[i])
		if !bytes.Equal(ledger.Canonical(&got[i]), ledger.Canonical(&want)) {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want)
		}
		if got[i].Seq != 0 || got[i].PrevHash != nil || got[i].Hash != nil {
			t.Errorf("entry %d carries chain fields: seq %d prev %x hash %x", i, got[i].Seq, got[i].PrevHash, got[i].Hash)
		}
	}
	if in[0].Seq != 1 || in[0].PrevHash == nil {
		t.Error("AppendAuditBatch modified the caller's entry")
	}
	empty, err := ledger.ParseAuditBatch(ledger.AppendAuditBatch(nil, nil))
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty batch: %v, %d entries", err, len(empty))
	}
}

// TestAuditBatchRejects: every malformed value is refused with
// ErrBadAuditBatch and names where it stopped.
func TestAuditBatchRejects(t *testing.T) {
	good := ledger.AppendAuditBatch(nil, []ledger.Entry{sample(), sample()})
	otherTag := ledger.AppendAuditBatch(nil, []ledger.Entry{sample()})
	copy(otherTag[4:], "EXCHANGE")
	noDeliveries := sample()
	noDeliveries.Deliveries = nil
	v2 := []byte(strings.Replace(string(ledger.AppendAuditBatch(nil, []ledger.Entry{noDeliveries})), ledger.HashVersion, ledger.HashVersionTerms, 1))
	cases := map[string]struct {
		value []byte
		says  string
	}{
		"empty":           {nil, "format tag"},
		"unknown format":  {otherTag, "is not"},
		"truncated":       {good[:len(good)-3], "entry 2 of 2"},
		"trailing bytes":  {append(append([]byte(nil), good...), 0), "after entry 2"},
		"huge count":      {append(append([]byte(nil), good[:4+len(ledger.AuditBatchFormat)]...), 0xff, 0xff, 0xff, 0xff), "entry count"},
		"v2 tag, no hash": {v2, "without a delivery content hash"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ledger.ParseAuditBatch(c.value)
			if !errors.Is(err, ledger.ErrBadAuditBatch) {
				t.Fatalf("err = %v, want ErrBadAuditBatch", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("err %q does not say %q", err, c.says)
			}
		})
	}
}

// FuzzParseAuditBatch: no input panics, and whatever parses re-encodes to
// the same bytes (one encoding per batch, so an indexer and a verifier
// can never disagree on what a message holds).
func FuzzParseAuditBatch(f *testing.F) {
	v2 := sample()
	v2.Deliveries[0].ContentHash = "c1"
	f.Add(ledger.AppendAuditBatch(nil, []ledger.Entry{chainless(sample()), chainless(v2)}))
	f.Add(ledger.AppendAuditBatch(nil, nil))
	f.Add([]byte{0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ledger.ParseAuditBatch(b)
		if err != nil {
			if !errors.Is(err, ledger.ErrBadAuditBatch) {
				t.Fatalf("error %v does not wrap ErrBadAuditBatch", err)
			}
			return
		}
		for i := range entries {
			if entries[i].Seq != 0 || entries[i].PrevHash != nil {
				return // a forged value with chain fields: parsed, not re-encodable; the store clears them
			}
		}
		if again := ledger.AppendAuditBatch(nil, entries); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
	})
}
