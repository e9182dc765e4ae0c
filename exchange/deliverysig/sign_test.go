package deliverysig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

func testSigner(t testing.TB) (*Signer, Keys) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	s := NewSigner(key)
	return s, Keys{s.KeyID(): s.PublicKey()}
}

func deliveries(n int) []Delivery {
	out := make([]Delivery, n)
	for i := range out {
		out[i] = Delivery{Agreement: "ag-1", DeliveryID: fmt.Sprintf("%032x", i), Topic: "deliver.social.ag-1",
			Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("value %d", i))}
	}
	return out
}

func signAll(s *Signer, ds []Delivery) [][]byte {
	leaves := make([]Hash, len(ds))
	for i := range ds {
		leaves[i] = Leaf(&ds[i])
	}
	return s.SignTree(ds[0].Agreement, leaves)
}

// Every leaf of trees of every size up to MaxTreeLeaves verifies alone.
func TestEveryTreeSizeVerifies(t *testing.T) {
	s, keys := testSigner(t)
	for n := 1; n <= MaxTreeLeaves; n++ {
		ds := deliveries(n)
		hs := signAll(s, ds)
		for i := range ds {
			if err := Verify(keys, &ds[i], string(hs[i])); err != nil {
				t.Fatalf("n=%d i=%d: %v (%s)", n, i, err, hs[i])
			}
			if got := len(hs[i]); got > 440 {
				t.Fatalf("n=%d: header of %d bytes", n, got)
			}
		}
	}
}

// A forged or altered delivery fails: another value, key, id, topic or
// agreement; a header copied onto another record; another signer's key.
func TestAlteredDeliveriesFail(t *testing.T) {
	s, keys := testSigner(t)
	ds := deliveries(5)
	hs := signAll(s, ds)
	alter := map[string]func(d *Delivery){
		"value":       func(d *Delivery) { d.Value = append([]byte(nil), "value 9"...) },
		"key":         func(d *Delivery) { d.Key = []byte("citizen-1") },
		"no key":      func(d *Delivery) { d.Key = nil },
		"delivery id": func(d *Delivery) { d.DeliveryID = strings.Repeat("0", 31) + "9" },
		"topic":       func(d *Delivery) { d.Topic = "deliver.tax.ag-1" },
		"agreement":   func(d *Delivery) { d.Agreement = "ag-2" },
		"other leaf":  func(d *Delivery) { *d = ds[3] },
	}
	for name, f := range alter {
		d := ds[2]
		f(&d)
		if err := Verify(keys, &d, string(hs[2])); err == nil {
			t.Errorf("%s altered: verified", name)
		}
	}
	other := NewSigner(ed25519.NewKeyFromSeed(sha256.New().Sum(nil)))
	forged := signAll(other, ds[:1])
	if err := Verify(keys, &ds[0], string(forged[0])); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("another key: %v", err)
	}
	// The forger reuses the exchange's key id: the signature fails.
	bad := strings.Replace(string(forged[0]), other.KeyID(), s.KeyID(), 1)
	if err := Verify(keys, &ds[0], bad); err == nil {
		t.Error("forged signature under the exchange's key id verified")
	}
}

func TestMalformedHeaders(t *testing.T) {
	s, keys := testSigner(t)
	ds := deliveries(3)
	good := string(signAll(s, ds)[1])
	for _, h := range []string{
		"", "v2;" + good[3:], strings.Replace(good, ";i=1", ";i=3", 1), strings.Replace(good, ";i=1", ";i=-1", 1),
		strings.Replace(good, ";n=3", ";n=2", 1), strings.Replace(good, ";n=3", ";n=999", 1),
		good + ";x=1", good + ";kid=a", strings.Replace(good, ";path=", ";path=!", 1), good[:len(good)-2],
	} {
		if err := Verify(keys, &ds[1], h); err == nil {
			t.Errorf("header %q verified", h)
		}
	}
}

func TestKeySetRoundTrip(t *testing.T) {
	s, _ := testSigner(t)
	ks := Publish(s.PublicKey())
	keys, err := ks.Verification()
	if err != nil || !keys[s.KeyID()].Equal(s.PublicKey()) {
		t.Fatalf("%v %v", keys, err)
	}
	ks.Keys[0].Kid = "AAAAAAAAAAA"
	if _, err := ks.Verification(); err == nil {
		t.Fatal("a key whose id is not derived from it was accepted")
	}
}

func TestVerifierCachesRoots(t *testing.T) {
	s, keys := testSigner(t)
	ds := deliveries(100)
	hs := signAll(s, ds)
	v := &Verifier{Keys: keys}
	for i := range ds {
		if err := v.Verify(&ds[i], string(hs[i])); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.good) != 1 {
		t.Fatalf("%d roots remembered, want 1", len(v.good))
	}
	d := ds[5]
	d.Value = []byte("altered")
	if err := v.Verify(&d, string(hs[5])); err == nil {
		t.Fatal("altered value verified through the cache")
	}
}

// BenchmarkSign: one delivery's share of signing a full tree (leaf hash,
// tree, one Ed25519 signature per MaxTreeLeaves deliveries, headers).
func BenchmarkSign(b *testing.B) {
	s, _ := testSigner(b)
	ds := deliveries(MaxTreeLeaves)
	for i := range ds {
		ds[i].Value = make([]byte, 150)
		ds[i].Key = make([]byte, 32)
	}
	leaves := make([]Hash, len(ds))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += MaxTreeLeaves {
		for j := range ds {
			leaves[j] = Leaf(&ds[j])
		}
		s.SignTree("ag-1", leaves)
	}
}

// BenchmarkEd25519Sign: what a signature per delivery would cost.
func BenchmarkEd25519Sign(b *testing.B) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	msg := make([]byte, 150)
	for i := 0; i < b.N; i++ {
		ed25519.Sign(key, msg)
	}
}

// BenchmarkVerify: a consumer's cost per delivery with a Verifier (one
// Ed25519 verification per tree).
func BenchmarkVerify(b *testing.B) {
	s, keys := testSigner(b)
	ds := deliveries(MaxTreeLeaves)
	hs := signAll(s, ds)
	v := &Verifier{Keys: keys}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(ds)
		if err := v.Verify(&ds[j], string(hs[j])); err != nil {
			b.Fatal(err)
		}
	}
}
