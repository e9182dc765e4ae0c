package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
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

// TestDeliveryKeysServed: the assembled exchange publishes the key its
// workers sign deliveries with, derived from the master key.
func TestDeliveryKeysServed(t *testing.T) {
	data := t.TempDir()
	a, err := New(context.Background(), Config{
		Kafka: kafkaAt("127.0.0.1:1"), DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: copyExamples(t), RegisterSchemaFiles: true, KeyFile: filepath.Join(data, "k"), CreateKey: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/delivery-keys", nil)
	req.Header.Set("Authorization", bearer(t, healthPublisher))
	a.HTTP().ServeHTTP(rec, req)
	var ks deliverysig.KeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &ks); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/delivery-keys: %d %v %s", rec.Code, err, rec.Body)
	}
	keys, err := ks.Verification()
	signer := a.recordKeys().Signer
	if err != nil || !keys[signer.KeyID()].Equal(signer.PublicKey()) {
		t.Fatalf("published %v (%v), workers sign with %s", keys, err, signer.KeyID())
	}
}
