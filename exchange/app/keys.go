package app

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Keys derives every secret the policy and the record path need from one
// master key, so that operators guard one file and every worker of a group
// holds the same keys: a pseudonym key and a delivery-key key per agreement
// (both stable within an agreement and unlinkable across agreements), the
// keys of the data-subject and record-key hashes kept in the ledger, and the
// Ed25519 key that signs deliveries.
type Keys struct {
	master []byte
}

const masterKeySize = 32

// LoadOrCreateKeys reads the master key at path, creating it (0600, random)
// when create is true and the file does not exist. A production exchange
// must not create its key silently: losing it changes every pseudonym.
func LoadOrCreateKeys(path string, create bool) (*Keys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		b = make([]byte, masterKeySize)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generating master key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating key directory: %w", err)
		}
		// O_EXCL: two processes racing to create the key must not end up with two keys.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return LoadOrCreateKeys(path, false)
			}
			return nil, fmt.Errorf("creating master key %s: %w", path, err)
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing master key %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("writing master key %s: %w", path, err)
		}
		return &Keys{master: b}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	if len(b) < masterKeySize {
		return nil, fmt.Errorf("master key %s: %d bytes, want at least %d", path, len(b), masterKeySize)
	}
	return &Keys{master: b}, nil
}

func (k *Keys) derive(label string) []byte {
	m := hmac.New(sha256.New, k.master)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// PseudonymKey is the HMAC key of one agreement's pseudonyms.
func (k *Keys) PseudonymKey(agreementID string) []byte {
	return k.derive("exchange/pseudonym/v1/" + agreementID)
}

// SubjectKey keys the data-subject hash stored in the ledger.
func (k *Keys) SubjectKey() []byte { return k.derive("exchange/subject/v1") }

// DeliveryKey is the HMAC key under which an agreement's delivery keys are
// derived from source record keys (see exchange.RecordKeys).
func (k *Keys) DeliveryKey(agreementID string) []byte {
	return k.derive("exchange/delivery-key/v1/" + agreementID)
}

// KeyHashKey keys the hash of the source record key kept in the ledger
// (key_hash): a plain SHA-256 of a guessable key (a record or citizen id)
// is reversed by trying candidates.
func (k *Keys) KeyHashKey() []byte { return k.derive("exchange/ledger-key/v1") }

// DeliverySigningKey is the Ed25519 key of exchange-signature headers. It
// is derived from the master key, not the ledger's checkpoint key: every
// worker of a group must sign with the same key, and each already holds
// the master key (the checkpoint key is optional and may sit with the
// store); the two keys also have different audiences (every consumer
// agency vs. auditors) and are rotated on their own.
func (k *Keys) DeliverySigningKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(k.derive("exchange/delivery-signature/v1"))
}

// DevSecret derives a secret of dev mode by label (the Kafka passwords
// `exchange dev` issues), so that they stay the same across restarts
// without a second key file.
func (k *Keys) DevSecret(label string) []byte { return k.derive("exchange/dev/v1/" + label) }

// ConsoleSessionKey signs the console's session cookies and CSRF tokens:
// every process of a group accepts the sessions of the others.
func (k *Keys) ConsoleSessionKey() []byte { return k.derive("exchange/console-session/v1") }
