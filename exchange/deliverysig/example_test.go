package deliverysig_test

import (
	"crypto/ed25519"
	"fmt"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
)

// A consumer verifies a delivery with the key set published at
// GET /api/v1/delivery-keys and the record's headers, key and value.
func Example_verify() {
	// The exchange's side: sign one agreement's deliveries of a batch.
	signer := deliverysig.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	d := deliverysig.Delivery{
		Agreement:  "health-to-social-2026-001",        // header exchange-agreement
		DeliveryID: "5b1f0c2a000000000000000000000042", // header exchange-delivery-id
		Topic:      "deliver.social-services.health-to-social-2026-001",
		Key:        []byte("record key as delivered"),
		Value:      []byte("value bytes as delivered (wire format)"),
	}
	header := signer.SignTree(d.Agreement, []deliverysig.Hash{deliverysig.Leaf(&d)})[0]

	// The consumer's side: the published key set (JSON), then every record.
	keys, err := deliverysig.Publish(signer.PublicKey()).Verification()
	if err != nil {
		panic(err)
	}
	v := &deliverysig.Verifier{Keys: keys}
	fmt.Println("genuine:", v.Verify(&d, string(header)))

	d.Value = []byte("value bytes altered on the way")
	fmt.Println("altered:", v.Verify(&d, string(header)) != nil)
	// Output:
	// genuine: <nil>
	// altered: true
}
