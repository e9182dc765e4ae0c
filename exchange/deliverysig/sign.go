package deliverysig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"strconv"
)

// Header is the name of the delivery header carrying the signature.
const Header = "exchange-signature"

// Version is the layout version, the header value's first element.
const Version = "v1"

const (
	messageTag = "exchange.delivery.v1"
	rootTag    = "exchange.delivery.root.v1"
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// MaxTreeLeaves bounds a tree, so a path has at most MaxTreeDepth hashes
// (a header of at most 436 bytes). At 128 the signature costs about 0.2 µs
// per delivery (BENCHMARKS.md).
const (
	MaxTreeLeaves = 128
	MaxTreeDepth  = 7
)

// Hash is a SHA-256 digest: a leaf or a node of a tree.
type Hash = [sha256.Size]byte

var b64 = base64.RawURLEncoding

// Delivery is what a signature covers.
type Delivery struct {
	Agreement  string // exchange-agreement
	DeliveryID string // exchange-delivery-id
	Topic      string // the delivery topic
	Key        []byte // the delivered Kafka key (nil: absent)
	Value      []byte // the delivered value
}

// AppendMessage appends d's message (see the package doc) to dst.
func AppendMessage(dst []byte, d *Delivery) []byte {
	dst = appendStr(dst, messageTag)
	dst = appendStr(dst, d.Agreement)
	dst = appendStr(dst, d.DeliveryID)
	dst = appendStr(dst, d.Topic)
	v := sha256.Sum256(d.Value)
	dst = append(dst, v[:]...)
	k := sha256.Sum256(d.Key)
	return append(dst, k[:]...)
}

// Leaf returns the leaf hash of d: SHA-256(0x00 || message).
func Leaf(d *Delivery) Hash {
	var buf [256]byte
	b := append(buf[:0], leafPrefix)
	return sha256.Sum256(AppendMessage(b, d))
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func node(l, r *Hash) Hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = nodePrefix
	copy(b[1:], l[:])
	copy(b[1+sha256.Size:], r[:])
	return sha256.Sum256(b[:])
}

// signedMessage is what the Ed25519 signature covers.
func signedMessage(agreement string, size int, root *Hash) []byte {
	b := make([]byte, 0, 4+len(rootTag)+4+len(agreement)+8+sha256.Size)
	b = appendStr(b, rootTag)
	b = appendStr(b, agreement)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	return append(b, root[:]...)
}

// KeyID is the id of a public key: the unpadded base64url of the first 8
// bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return b64.EncodeToString(sum[:8])
}

// Signer signs trees of deliveries with one Ed25519 key. It is safe for
// concurrent use.
type Signer struct {
	key ed25519.PrivateKey
	kid string
}

// NewSigner returns a signer with key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, kid: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID is the id of the signer's public key, carried in every header.
func (s *Signer) KeyID() string { return s.kid }

// PublicKey is the key consumers verify with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// SignTree signs leaves, the deliveries of one agreement in order (at most
// MaxTreeLeaves), as one tree, and returns the header value of each leaf,
// all carved from one allocation.
func (s *Signer) SignTree(agreement string, leaves []Hash) [][]byte {
	n := len(leaves)
	if n == 0 {
		return nil
	}
	if n > MaxTreeLeaves {
		panic("deliverysig: tree of " + strconv.Itoa(n) + " leaves, more than MaxTreeLeaves")
	}
	var paths [MaxTreeLeaves]path
	root := buildTree(leaves, paths[:n])
	var sig [b64SigLen]byte
	b64.Encode(sig[:], ed25519.Sign(s.key, signedMessage(agreement, n, &root)))

	size := 0
	for i := range n {
		size += headerLen(len(s.kid), n, i, int(paths[i].len))
	}
	arena := make([]byte, 0, size)
	out := make([][]byte, n)
	for i := range n {
		at := len(arena)
		arena = appendHeader(arena, s.kid, n, i, &paths[i], sig[:])
		out[i] = arena[at:len(arena):len(arena)]
	}
	return out
}

// path is one leaf's inclusion path, leaf level first.
type path struct {
	h   [MaxTreeDepth]Hash
	len uint8
}

// buildTree returns the RFC 9162 tree hash of leaves and appends to each
// leaf's path the sibling hashes on its way to the root. Subtrees return
// before their parent appends, so paths come out leaf level first.
func buildTree(leaves []Hash, paths []path) Hash {
	n := len(leaves)
	if n == 1 {
		return leaves[0]
	}
	k := 1 << (bits.Len(uint(n-1)) - 1) // largest power of two below n
	l := buildTree(leaves[:k], paths[:k])
	r := buildTree(leaves[k:], paths[k:])
	for i := range paths[:k] {
		paths[i].h[paths[i].len] = r
		paths[i].len++
	}
	for i := range paths[k:] {
		p := &paths[k+i]
		p.h[p.len] = l
		p.len++
	}
	return node(&l, &r)
}

const b64SigLen = (ed25519.SignatureSize*8 + 5) / 6 // 86

// headerLen is the length of one header value.
func headerLen(kidLen, n, i, depth int) int {
	return len(Version) + len(";kid=") + kidLen + len(";n=") + decLen(n) + len(";i=") + decLen(i) +
		len(";path=") + b64.EncodedLen(depth*sha256.Size) + len(";sig=") + b64SigLen
}

func decLen(v int) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

func appendHeader(dst []byte, kid string, n, i int, p *path, sig []byte) []byte {
	dst = append(dst, Version...)
	dst = append(dst, ";kid="...)
	dst = append(dst, kid...)
	dst = append(dst, ";n="...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ";i="...)
	dst = strconv.AppendInt(dst, int64(i), 10)
	dst = append(dst, ";path="...)
	var raw [MaxTreeDepth * sha256.Size]byte
	for j := range int(p.len) {
		copy(raw[j*sha256.Size:], p.h[j][:])
	}
	dst = b64.AppendEncode(dst, raw[:int(p.len)*sha256.Size])
	dst = append(dst, ";sig="...)
	return append(dst, sig...)
}
