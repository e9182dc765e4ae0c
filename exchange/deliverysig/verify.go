package deliverysig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ErrUnknownKey is returned (wrapped) for a signature by a key id the
// verifier does not know: fetch the published keys again, or the record
// was not signed by this exchange.
var ErrUnknownKey = errors.New("unknown key id")

// Signature is a parsed exchange-signature header value.
type Signature struct {
	KeyID string
	Size  int // leaves of the tree
	Index int // this delivery's leaf
	Path  []Hash
	Sig   []byte
}

// ParseHeader parses an exchange-signature header value.
func ParseHeader(v string) (Signature, error) {
	var s Signature
	parts := strings.Split(v, ";")
	if parts[0] != Version {
		return s, fmt.Errorf("version %q, want %s", parts[0], Version)
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, val, ok := strings.Cut(p, "=")
		if !ok || seen[name] {
			return s, fmt.Errorf("element %q is not name=value or repeats", p)
		}
		seen[name] = true
		if err := s.set(name, val); err != nil {
			return s, err
		}
	}
	for _, name := range []string{"kid", "n", "i", "path", "sig"} {
		if !seen[name] {
			return s, fmt.Errorf("no %s", name)
		}
	}
	if s.Index >= s.Size {
		return s, fmt.Errorf("leaf %d of a tree of %d", s.Index, s.Size)
	}
	return s, nil
}

func (s *Signature) set(name, val string) error {
	var err error
	switch name {
	case "kid":
		s.KeyID = val
	case "n":
		s.Size, err = strconv.Atoi(val)
		if err == nil && (s.Size < 1 || s.Size > MaxTreeLeaves) {
			err = fmt.Errorf("tree size %d out of 1..%d", s.Size, MaxTreeLeaves)
		}
	case "i":
		s.Index, err = strconv.Atoi(val)
		if err == nil && s.Index < 0 {
			err = fmt.Errorf("negative leaf index")
		}
	case "path":
		var raw []byte
		raw, err = b64.DecodeString(val)
		if err == nil && (len(raw)%sha256.Size != 0 || len(raw) > MaxTreeDepth*sha256.Size) {
			err = fmt.Errorf("path of %d bytes", len(raw))
		}
		for i := 0; err == nil && i < len(raw); i += sha256.Size {
			s.Path = append(s.Path, Hash(raw[i:i+sha256.Size]))
		}
	case "sig":
		s.Sig, err = b64.DecodeString(val)
		if err == nil && len(s.Sig) != ed25519.SignatureSize {
			err = fmt.Errorf("signature of %d bytes", len(s.Sig))
		}
	default:
		// Unknown elements are refused: v1 has exactly these.
		err = errors.New("unknown element")
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Root walks s's path up from leaf to the tree's root (RFC 9162, section
// 2.1.3.2). ok is false when the path does not fit the tree size and index.
func (s *Signature) Root(leaf Hash) (root Hash, ok bool) {
	fn, sn := s.Index, s.Size-1
	r := leaf
	for i := range s.Path {
		p := &s.Path[i]
		if sn == 0 {
			return r, false
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, &r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = node(&r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return r, sn == 0
}

// Keys are the verification keys by key id (the published key set).
type Keys map[string]ed25519.PublicKey

// Verify checks header, the exchange-signature value of delivery d, with
// keys. A nil error means the exchange signed exactly this agreement,
// delivery id, topic, key and value.
func Verify(keys Keys, d *Delivery, header string) error {
	return (&Verifier{Keys: keys}).Verify(d, header)
}

// Verifier verifies deliveries, remembering the tree roots whose signature
// it checked: the deliveries of one tree share one Ed25519 verification
// (about 60 µs) and then cost a few hashes each. Safe for concurrent use.
type Verifier struct {
	Keys Keys

	mu   sync.Mutex
	good map[string]struct{} // kid, agreement, size, root, signature
}

// maxRemembered bounds the roots a Verifier remembers; past it, it starts over.
const maxRemembered = 4096

// Verify is the package's Verify with the cache of verified roots.
func (v *Verifier) Verify(d *Delivery, header string) error {
	s, err := ParseHeader(header)
	if err != nil {
		return fmt.Errorf("malformed signature header: %w", err)
	}
	pub, ok := v.Keys[s.KeyID]
	if !ok {
		return fmt.Errorf("key %q: %w", s.KeyID, ErrUnknownKey)
	}
	root, ok := s.Root(Leaf(d))
	if !ok {
		return errors.New("inclusion path does not fit the tree size and leaf index")
	}
	msg := signedMessage(d.Agreement, s.Size, &root)
	id := s.KeyID + "\x00" + string(msg) + string(s.Sig)
	v.mu.Lock()
	_, known := v.good[id]
	v.mu.Unlock()
	if known {
		return nil
	}
	if !ed25519.Verify(pub, msg, s.Sig) {
		return errors.New("signature does not match the delivery (agreement, delivery id, topic, key or value altered, or not signed by the exchange)")
	}
	v.mu.Lock()
	if v.good == nil || len(v.good) >= maxRemembered {
		v.good = map[string]struct{}{}
	}
	v.good[id] = struct{}{}
	v.mu.Unlock()
	return nil
}
