package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Keys derives every secret the policy needs from one master key, so that
// operators guard one file: a pseudonym key per agreement (pseudonyms are
// stable within an agreement and unlinkable across agreements) and the key of
// the data-subject hash kept in the ledger.
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
