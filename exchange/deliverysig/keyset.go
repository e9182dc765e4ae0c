package deliverysig

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// KeySet is the JSON document of the published verification keys
// (GET /api/v1/delivery-keys): a JWK set (RFC 7517) of Ed25519 keys in the
// RFC 8037 form, so JOSE libraries read it as is.
type KeySet struct {
	Keys []JWK `json:"keys"`
}

// JWK is one verification key.
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	Alg string `json:"alg"` // "EdDSA"
	Use string `json:"use"` // "exchange-delivery-signature"
	Kid string `json:"kid"` // the key id of exchange-signature headers
	X   string `json:"x"`   // the 32-byte public key, unpadded base64url
}

// Use is the JWK "use" of delivery verification keys.
const Use = "exchange-delivery-signature"

// Publish returns the key set of pubs.
func Publish(pubs ...ed25519.PublicKey) KeySet {
	ks := KeySet{Keys: make([]JWK, 0, len(pubs))}
	for _, p := range pubs {
		ks.Keys = append(ks.Keys, JWK{Kty: "OKP", Crv: "Ed25519", Alg: "EdDSA", Use: Use, Kid: KeyID(p), X: b64.EncodeToString(p)})
	}
	return ks
}

// Verification returns the keys of ks by id. A key whose id is not the id
// of its bytes is refused: the id is derived, never trusted.
func (ks KeySet) Verification() (Keys, error) {
	out := Keys{}
	for _, k := range ks.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			continue // not a key of this scheme
		}
		raw, err := b64.DecodeString(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %q: x is not a base64url Ed25519 public key", k.Kid)
		}
		pub := ed25519.PublicKey(raw)
		if KeyID(pub) != k.Kid {
			return nil, fmt.Errorf("key %q: id does not match the key (want %s)", k.Kid, KeyID(pub))
		}
		out[k.Kid] = pub
	}
	if len(out) == 0 {
		return nil, errors.New("no Ed25519 key in the key set")
	}
	return out, nil
}
