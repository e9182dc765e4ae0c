package app

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestKeysStableAcrossLoadsAndDistinctPerAgreement(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "secret.key")
	if _, err := LoadOrCreateKeys(p, false); err == nil {
		t.Fatal("loading a missing key without create must fail")
	}
	k1, err := LoadOrCreateKeys(p, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKeys(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.PseudonymKey("a"), k2.PseudonymKey("a")) {
		t.Fatal("pseudonym key changed across loads")
	}
	if bytes.Equal(k1.PseudonymKey("a"), k1.PseudonymKey("b")) {
		t.Fatal("two agreements share a pseudonym key")
	}
	if bytes.Equal(k1.SubjectKey(), k1.PseudonymKey("")) {
		t.Fatal("subject key equals a pseudonym key")
	}
	os.WriteFile(p, []byte("short"), 0o600)
	if _, err := LoadOrCreateKeys(p, false); err == nil {
		t.Fatal("a 5-byte key must be refused")
	}
}

func TestRecordKeysDistinctAndStable(t *testing.T) {
	k1 := &Keys{master: bytes.Repeat([]byte{1}, masterKeySize)}
	k2 := &Keys{master: bytes.Repeat([]byte{1}, masterKeySize)}
	if !bytes.Equal(k1.DeliveryKey("a"), k2.DeliveryKey("a")) || !k1.DeliverySigningKey().Equal(k2.DeliverySigningKey()) {
		t.Fatal("derived keys differ for one master key")
	}
	all := [][]byte{k1.DeliveryKey("a"), k1.DeliveryKey("b"), k1.PseudonymKey("a"), k1.KeyHashKey(), k1.SubjectKey(), k1.DeliverySigningKey().Seed()}
	for i := range all {
		for j := range i {
			if bytes.Equal(all[i], all[j]) {
				t.Fatalf("keys %d and %d are equal", i, j)
			}
		}
	}
}
