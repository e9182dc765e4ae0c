package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// CheckpointVersion labels the encoding a checkpoint signature covers.
const CheckpointVersion = "exchange.ledger.checkpoint.v1"

// Checkpoint is a signed statement that a chain had Hash at Seq at Time.
// Exported outside the database (`exchange audit export`), checkpoints let
// verify detect a rewrite of the whole database, checkpoints included.
type Checkpoint struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Seq       int64     `json:"seq"`
	Hash      []byte    `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`     // KeyID of the signing public key
	PublicKey []byte    `json:"public_key"` // the signing public key (raw Ed25519)
	Signature []byte    `json:"signature"`
}

// signedBytes is what the signature covers.
func (c *Checkpoint) signedBytes() []byte {
	b := make([]byte, 0, 128+len(c.Topic))
	b = appendString(b, CheckpointVersion)
	b = appendString(b, c.Topic)
	b = binary.BigEndian.AppendUint32(b, uint32(c.Partition))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = appendBytes(b, c.Hash)
	b = appendTime(b, c.Time)
	return b
}

// SignCheckpoint fills Time (truncated to microseconds), KeyID, PublicKey and
// Signature of c with key.
func SignCheckpoint(c *Checkpoint, key ed25519.PrivateKey, now time.Time) {
	c.Time = normTime(now)
	pub := key.Public().(ed25519.PublicKey)
	c.PublicKey = append([]byte(nil), pub...)
	c.KeyID = KeyID(pub)
	c.Signature = ed25519.Sign(key, c.signedBytes())
}

// VerifyCheckpoint reports whether c carries a valid signature by pub. With a
// nil pub it checks against the key the checkpoint names, which only proves
// the checkpoint is intact, not who signed it.
func VerifyCheckpoint(c *Checkpoint, pub ed25519.PublicKey) error {
	if pub == nil {
		if len(c.PublicKey) != ed25519.PublicKeySize {
			return errors.New("checkpoint carries no valid public key")
		}
		pub = c.PublicKey
	} else if len(c.PublicKey) > 0 && !bytes.Equal(c.PublicKey, pub) {
		return fmt.Errorf("checkpoint signed by key %s, not by the given key %s", c.KeyID, KeyID(pub))
	}
	if !ed25519.Verify(pub, c.signedBytes(), c.Signature) {
		return errors.New("checkpoint signature does not verify")
	}
	return nil
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// LoadOrCreateKey reads an Ed25519 private key (PEM, PKCS #8) from path, or,
// when the file does not exist, creates one there (mode 0600) and writes its
// public key beside it as path+".pub". Dev mode keeps its key in the data dir.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating key dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadKey(path) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("creating signing key %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing signing key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing signing key %s: %w", path, err)
	}
	if err := WritePublicKey(path+".pub", key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadKey reads an Ed25519 private key (PEM "PRIVATE KEY", PKCS #8).
func LoadKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an Ed25519 key", path)
	}
	return key, nil
}

// WritePublicKey writes pub as PEM "PUBLIC KEY" (PKIX).
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("encoding public key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("writing public key: %w", err)
	}
	return nil
}

// LoadPublicKey reads an Ed25519 public key (PEM "PUBLIC KEY"); a private key
// file is accepted too and its public half returned.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, fmt.Errorf("public key %s: not PEM", path)
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key %s: not an Ed25519 key", path)
		}
		return pub, nil
	case "PRIVATE KEY":
		key, err := LoadKey(path)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("public key %s: unexpected PEM block %q", path, blk.Type)
}
