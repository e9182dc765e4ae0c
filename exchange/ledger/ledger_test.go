package ledger_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

func sample() ledger.Entry {
	return ledger.Entry{
		Topic: "ingress.health.immunisations", Partition: 3, Offset: 1042,
		Dataset: "health.immunisations", KeyHash: []byte{1, 2}, PayloadHash: []byte{3, 4}, SchemaID: 7,
		Decision: ledger.Delivered, Reasons: []string{"quality:age_plausible"},
		Deliveries:  []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: "d1"}},
		Skips:       []ledger.Skip{{AgreementID: "a2", Reason: "filter"}},
		PlanVersion: "plan-3", SubjectHash: []byte{5},
		EventTime:    time.Date(2026, 11, 27, 2, 59, 0, 0, time.UTC),
		DecisionTime: time.Date(2026, 11, 27, 3, 0, 0, 123456000, time.UTC),
		Seq:          1,
	}
}

// TestHashGolden pins the v1 encoding: a stored ledger must verify with
// every later build. Changing the encoding needs a new HashVersion.
func TestHashGolden(t *testing.T) {
	e := sample()
	got := hex.EncodeToString(ledger.ComputeHash(&e))
	const want = "83f0c424ff510e8e5abdb2bfa2ecdbb3881c4bfb95e3c1caeba34e83115eed65"
	if got != want {
		t.Fatalf("v1 entry hash changed: got %s, want %s", got, want)
	}
}

// TestHashTermsEncoding: an entry whose deliveries carry content hashes is
// encoded under v2, pinned here; each content hash counts; stripping them
// (to pass the entry off as an older one) changes the hash.
func TestHashTermsEncoding(t *testing.T) {
	e := sample()
	e.Deliveries = []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: "d1", ContentHash: "c1"}}
	if c := string(ledger.Canonical(&e)); !strings.Contains(c, ledger.HashVersionTerms) || !strings.Contains(c, "c1") {
		t.Fatalf("canonical encoding %q lacks the v2 tag or the content hash", c)
	}
	got := hex.EncodeToString(ledger.ComputeHash(&e))
	const want = "ad94c9be30136288ab6f87c7eec5038a7bd71198ed2aa523899e40b2a7e3341a"
	if got != want {
		t.Errorf("v2 entry hash changed: got %s, want %s", got, want)
	}
	changed := e
	changed.Deliveries = []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: "d1", ContentHash: "c2"}}
	if hex.EncodeToString(ledger.ComputeHash(&changed)) == got {
		t.Error("another content hash gives the same entry hash")
	}
	stripped := sample()
	if h := hex.EncodeToString(ledger.ComputeHash(&stripped)); h == got {
		t.Error("stripping the content hash keeps the entry hash")
	}
}

// TestHashCoversEveryField: changing any field changes the hash, and the
// length prefixes keep field boundaries apart.
func TestHashCoversEveryField(t *testing.T) {
	base := sample()
	h0 := hex.EncodeToString(ledger.ComputeHash(&base))
	muts := map[string]func(*ledger.Entry){
		"topic":          func(e *ledger.Entry) { e.Topic += "x" },
		"partition":      func(e *ledger.Entry) { e.Partition++ },
		"offset":         func(e *ledger.Entry) { e.Offset++ },
		"seq":            func(e *ledger.Entry) { e.Seq++ },
		"dataset":        func(e *ledger.Entry) { e.Dataset += "x" },
		"key hash":       func(e *ledger.Entry) { e.KeyHash = []byte{1, 3} },
		"payload hash":   func(e *ledger.Entry) { e.PayloadHash = nil },
		"schema id":      func(e *ledger.Entry) { e.SchemaID = 8 },
		"decision":       func(e *ledger.Entry) { e.Decision = ledger.Dropped },
		"reasons":        func(e *ledger.Entry) { e.Reasons = append(e.Reasons, "x") },
		"reason split":   func(e *ledger.Entry) { e.Reasons = []string{"quality:", "age_plausible"} },
		"delivery":       func(e *ledger.Entry) { e.Deliveries[0].DeliveryID = "d2" },
		"no delivery":    func(e *ledger.Entry) { e.Deliveries = nil },
		"skip":           func(e *ledger.Entry) { e.Skips[0].Reason = "expired" },
		"plan":           func(e *ledger.Entry) { e.PlanVersion = "plan-4" },
		"subject hash":   func(e *ledger.Entry) { e.SubjectHash = nil },
		"event time":     func(e *ledger.Entry) { e.EventTime = time.Time{} },
		"decision time":  func(e *ledger.Entry) { e.DecisionTime = e.DecisionTime.Add(time.Microsecond) },
		"prev hash":      func(e *ledger.Entry) { e.PrevHash = []byte{9} },
		"content hash":   func(e *ledger.Entry) { e.Deliveries[0].ContentHash = "c1" },
		"boundary shift": func(e *ledger.Entry) { e.Topic, e.Dataset = e.Topic+"h", e.Dataset[1:] },
	}
	seen := map[string]string{h0: "base"}
	for name, mut := range muts {
		e := sample()
		e.Reasons = append([]string(nil), e.Reasons...)
		e.Deliveries = append([]ledger.Delivery(nil), e.Deliveries...)
		e.Skips = append([]ledger.Skip(nil), e.Skips...)
		mut(&e)
		h := hex.EncodeToString(ledger.ComputeHash(&e))
		if other, dup := seen[h]; dup {
			t.Errorf("%s: same hash as %s", name, other)
		}
		seen[h] = name
	}
}

// memSource is a Source over slices, for Verify tests without a database.
type memSource struct {
	entries map[ledger.Chain][]ledger.Entry
	cps     map[ledger.Chain][]ledger.Checkpoint
	anchors map[ledger.Chain][]ledger.Anchor
}

func (m *memSource) ChainAnchors(ctx context.Context, c ledger.Chain) ([]ledger.Anchor, error) {
	return m.anchors[c], nil
}

func (m *memSource) Chains(ctx context.Context) ([]ledger.Chain, error) {
	var out []ledger.Chain
	for c := range m.entries {
		out = append(out, c)
	}
	return out, nil
}

func (m *memSource) ChainEntries(ctx context.Context, c ledger.Chain, fn func(*ledger.Entry) error) error {
	for i := range m.entries[c] {
		if err := fn(&m.entries[c][i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) ChainCheckpoints(ctx context.Context, c ledger.Chain) ([]ledger.Checkpoint, error) {
	return m.cps[c], nil
}

func chain(t *testing.T, n int, key ed25519.PrivateKey) *memSource {
	t.Helper()
	c := ledger.Chain{Topic: "ingress.a.b", Partition: 0}
	var es []ledger.Entry
	for i := 0; i < n; i++ {
		e := sample()
		e.Topic, e.Partition, e.Offset = c.Topic, 0, int64(100+i)
		e.Deliveries[0].DeliveryID = ledger.DeliveryID(e.Deliveries[0].AgreementID, e.Topic, e.Partition, e.Offset)
		es = append(es, e)
	}
	b, err := ledger.NewBatch(es)
	if err != nil {
		t.Fatal(err)
	}
	ledger.Link(ledger.Head{MaxOffset: -1}, b.Entries[c])
	m := &memSource{entries: map[ledger.Chain][]ledger.Entry{}, cps: map[ledger.Chain][]ledger.Checkpoint{}}
	for _, e := range b.Entries[c] {
		m.entries[c] = append(m.entries[c], *e)
	}
	last := m.entries[c][n-1]
	cp := ledger.Checkpoint{Topic: c.Topic, Seq: last.Seq, Hash: last.Hash}
	ledger.SignCheckpoint(&cp, key, time.Now())
	m.cps[c] = []ledger.Checkpoint{cp}
	return m
}

func TestVerify(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	c := ledger.Chain{Topic: "ingress.a.b"}
	for _, tc := range []struct {
		name   string
		mut    func(m *memSource)
		offset int64
		seq    int64
		want   string
	}{
		{"intact", func(m *memSource) {}, 0, 0, ""},
		{"edited", func(m *memSource) { m.entries[c][3].Dataset = "x" }, 103, 4, "content altered"},
		{"edited and rehashed", func(m *memSource) {
			e := &m.entries[c][3]
			e.Dataset = "x"
			e.Hash = ledger.ComputeHash(e)
		}, 103, 4, "rehashed"},
		{"tail edited and rehashed", func(m *memSource) {
			e := &m.entries[c][9]
			e.Dataset = "x"
			e.Hash = ledger.ComputeHash(e)
		}, 109, 10, "signed checkpoint"},
		{"deleted", func(m *memSource) { m.entries[c] = append(m.entries[c][:5], m.entries[c][6:]...) }, -1, 6, "entry missing (between offset 104 and offset 106)"},
		{"deleted head", func(m *memSource) { m.entries[c] = m.entries[c][1:] }, -1, 1, "entries seq 1..1 missing"},
		{"deleted tail", func(m *memSource) { m.entries[c] = m.entries[c][:9] }, -1, 10, "beyond the last entry"},
		{"forked", func(m *memSource) {
			f := m.entries[c][4]
			f.Offset = 999
			f.Hash = ledger.ComputeHash(&f)
			m.entries[c] = append(m.entries[c][:5], append([]ledger.Entry{f}, m.entries[c][5:]...)...)
		}, 999, 5, "appears twice"},
		{"archived prefix", func(m *memSource) {
			m.anchors = map[ledger.Chain][]ledger.Anchor{c: {{Chain: c, UpToSeq: 4, Hash: m.entries[c][3].Hash, Archive: "ledger_entries_2026_10"}}}
			m.entries[c] = m.entries[c][4:]
		}, 0, 0, ""},
		{"archived prefix, next entry deleted", func(m *memSource) {
			m.anchors = map[ledger.Chain][]ledger.Anchor{c: {{Chain: c, UpToSeq: 4, Hash: m.entries[c][3].Hash}}}
			m.entries[c] = m.entries[c][5:]
		}, -1, 5, "entries seq 5..5 missing before offset 105 (archived up to seq 4)"},
		{"forged anchor", func(m *memSource) {
			m.anchors = map[ledger.Chain][]ledger.Anchor{c: {{Chain: c, UpToSeq: 4, Hash: []byte{1}, Archive: "x"}}}
			m.entries[c] = m.entries[c][4:]
		}, 104, 5, "prev_hash does not match the hash of archived seq 4 (x)"},
		{"checkpoint forged", func(m *memSource) { m.cps[c][0].Hash = []byte{1} }, -1, 10, "signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := chain(t, 10, key)
			tc.mut(m)
			rep, err := ledger.Verify(context.Background(), m, ledger.VerifyOptions{PublicKey: pub})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if !rep.OK() || rep.Entries+int64(len(rep.Archived))*4 != 10 || rep.Checkpoints != 1 {
					t.Fatalf("intact chain: %+v", rep)
				}
				return
			}
			if len(rep.Breaks) != 1 {
				t.Fatalf("want one break, got %v", rep.Breaks)
			}
			b := rep.Breaks[0]
			if b.Offset != tc.offset || b.Seq != tc.seq || !strings.Contains(b.Problem, tc.want) {
				t.Fatalf("break %q, want offset %d seq %d %q", b, tc.offset, tc.seq, tc.want)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "ledger.key")
	k1, err := ledger.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ledger.LoadOrCreateKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v, same key %v", err, k1.Equal(k2))
	}
	pub, err := ledger.LoadPublicKey(path + ".pub")
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("public key: %v", err)
	}
	if _, err := ledger.LoadKey(path + ".pub"); err == nil {
		t.Fatal("a public key loaded as private")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	e := sample()
	e.Hash = ledger.ComputeHash(&e)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"consumer":"statistics"`) || !strings.Contains(string(b), `"hash":"`+hex.EncodeToString(e.Hash)+`"`) {
		t.Fatalf("JSON: %s", b)
	}
	var back ledger.Entry
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("round trip:\n%+v\n%+v", back, e)
	}
}

func TestValidate(t *testing.T) {
	e := sample()
	e.Deliveries[0].DeliveryID = ledger.DeliveryID("a1", e.Topic, e.Partition, e.Offset)
	if err := ledger.Validate(&e); err != nil {
		t.Fatal(err)
	}
	bad := e
	bad.Decision = "lost"
	if err := ledger.Validate(&bad); !errors.Is(err, ledger.ErrInvalidEntry) {
		t.Fatalf("unknown decision: err = %v", err)
	}
	// A delivery id that is not this record's cannot be looked up later.
	for name, id := range map[string]string{
		"opaque":          "d1",
		"other offset":    ledger.DeliveryID("a1", e.Topic, e.Partition, e.Offset+1),
		"other partition": ledger.DeliveryID("a1", e.Topic, e.Partition+1, e.Offset),
		"other agreement": ledger.DeliveryID("a2", e.Topic, e.Partition, e.Offset),
		"other topic":     ledger.DeliveryID("a1", e.Topic+"x", e.Partition, e.Offset),
	} {
		bad := e
		bad.Deliveries = []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.statistics.a1", DeliveryID: id}}
		err := ledger.Validate(&bad)
		if !errors.Is(err, ledger.ErrInvalidEntry) || !strings.Contains(err.Error(), "delivery 1") {
			t.Errorf("%s delivery id: err = %v, want an invalid entry naming delivery 1", name, err)
		}
	}
}

func TestConsumer(t *testing.T) {
	for in, want := range map[string]string{"deliver.statistics.a1": "statistics", "deliver.x": "", "quarantine.a.b": ""} {
		if got := ledger.Consumer(in); got != want {
			t.Errorf("Consumer(%q) = %q, want %q", in, got, want)
		}
	}
}
