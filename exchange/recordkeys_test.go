package exchange

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
)

// testSecret is the tests' fixed secret: their delivery keys, key hashes
// and signatures are the same in every run.
var testSecret = bytes.Repeat([]byte{7}, 32)

func testHMAC(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

var testSigner = deliverysig.NewSigner(ed25519.NewKeyFromSeed(testSecret))

// testRecordKeys are fixed record keys for tests.
func testRecordKeys() RecordKeys {
	return RecordKeys{
		DeliveryKey: func(id string) []byte { return testHMAC(testSecret, "delivery/"+id) },
		KeyHash:     testSecret,
		Signer:      testSigner,
	}
}

// testVerifyKeys verify testRecordKeys' signatures.
var testVerifyKeys = deliverysig.Keys{testSigner.KeyID(): testSigner.PublicKey()}

// deliveryKeyOf is the delivery key testRecordKeys give the source key src
// under an agreement that does not keep it.
func deliveryKeyOf(agreementID, src string) []byte {
	return testHMAC(testHMAC(testSecret, "delivery/"+agreementID), src)
}

// keyHashHex is the ledger key hash testRecordKeys give src, in hex.
func keyHashHex(src string) string { return hex.EncodeToString(testHMAC(testSecret, src)) }

// sourceKey names a delivery by its record's source key: tests name
// records by their keys, and deliveries carry a keyed hash of them (or the
// key itself, when the agreement keeps it). "" when none of candidates.
func sourceKey(agreementID string, key []byte, candidates []string) string {
	for _, c := range candidates {
		if string(key) == c || bytes.Equal(key, deliveryKeyOf(agreementID, c)) {
			return c
		}
	}
	return ""
}
