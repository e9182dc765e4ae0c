package ledger_test

import (
	"math"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestDeliveryIDGolden pins the id format: consumers store delivery ids to
// drop duplicates, so re-processing after an upgrade must yield the same id.
func TestDeliveryIDGolden(t *testing.T) {
	got := ledger.DeliveryID("hlth-stat-01", "ingress.health.immunisations", 2, 1042)
	// sha256("\x0c" "hlth-stat-01" "ingress.health.immunisations")[:4],
	// partition 2, offset 1042.
	const want = "7119e264" + "00000002" + "0000000000000412"
	if got != want {
		t.Fatalf("DeliveryID = %s, want %s", got, want)
	}
}

func TestDeliveryIDIsPerAgreementAndTopic(t *testing.T) {
	base := ledger.DeliveryID("a1", "ingress.x", 0, 5)
	for name, other := range map[string]string{
		"agreement": ledger.DeliveryID("a2", "ingress.x", 0, 5),
		"topic":     ledger.DeliveryID("a1", "ingress.y", 0, 5),
		"boundary":  ledger.DeliveryID("a", "1ingress.x", 0, 5),
		"partition": ledger.DeliveryID("a1", "ingress.x", 1, 5),
		"offset":    ledger.DeliveryID("a1", "ingress.x", 0, 6),
	} {
		if other == base {
			t.Errorf("another %s gives the same id %s", name, base)
		}
	}
	if again := ledger.DeliveryID("a1", "ingress.x", 0, 5); again != base {
		t.Errorf("not stable: %s then %s", base, again)
	}
}

func TestLocateDelivery(t *testing.T) {
	for _, tc := range []struct {
		partition int32
		offset    int64
	}{{0, 0}, {3, 1042}, {math.MaxInt32, math.MaxInt64}} {
		id := ledger.DeliveryID("agreement", "ingress.d", tc.partition, tc.offset)
		if len(id) != ledger.DeliveryIDLen {
			t.Fatalf("len(%q) = %d", id, len(id))
		}
		p, o, ok := ledger.LocateDelivery(id)
		if !ok || p != tc.partition || o != tc.offset {
			t.Errorf("LocateDelivery(%s) = %d, %d, %v; want %d, %d", id, p, o, ok, tc.partition, tc.offset)
		}
	}
	valid := ledger.DeliveryID("agreement", "ingress.d", 1, 2)
	for name, id := range map[string]string{
		"empty":              "",
		"short":              valid[:31],
		"long":               valid + "0",
		"upper case":         strings.ToUpper(valid),
		"not hex":            "zz" + valid[2:],
		"negative partition": valid[:8] + "80000000" + valid[16:],
		"negative offset":    valid[:16] + "8000000000000000",
	} {
		if _, _, ok := ledger.LocateDelivery(id); ok {
			t.Errorf("%s: LocateDelivery(%q) accepted", name, id)
		}
	}
}

// FuzzLocateDelivery: any string (an API parameter) is located or refused,
// never a panic, and what is located re-encodes to the same position.
func FuzzLocateDelivery(f *testing.F) {
	f.Add(ledger.DeliveryID("a", "ingress.t", 1, 2))
	f.Add("")
	f.Add("ffffffffffffffffffffffffffffffff")
	f.Fuzz(func(t *testing.T, id string) {
		p, o, ok := ledger.LocateDelivery(id)
		if !ok {
			return
		}
		if p < 0 || o < 0 || !strings.HasSuffix(ledger.DeliveryID("x", "y", p, o), id[8:]) {
			t.Fatalf("LocateDelivery(%q) = %d, %d", id, p, o)
		}
	})
}
