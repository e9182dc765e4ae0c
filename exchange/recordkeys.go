// Record keys: the delivery key of each agreement, the keyed ledger key
// hash, and the exchange-signature of deliveries.

package exchange

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/policy"
)

// HeaderSignature is the delivery header carrying the exchange's signature
// (deliverysig: v1;kid=…;n=…;i=…;path=…;sig=…).
const HeaderSignature = deliverysig.Header

// RecordKeys are the secrets of the record path. app.Keys derives them from
// the master key, so every worker of a group holds the same ones: delivery
// keys, and with them per-key order, must not change with the worker that
// owns a partition.
type RecordKeys struct {
	// DeliveryKey returns the HMAC-SHA256 key of an agreement's delivery
	// keys: a delivery's Kafka key is HMAC(DeliveryKey(agreement), source
	// key), unless the agreement keeps the field the source key is
	// (policy.Outcome.KeyKept).
	DeliveryKey func(agreementID string) []byte
	// KeyHash is the HMAC-SHA256 key of the ledger's key_hash.
	KeyHash []byte
	// Signer signs every delivery (exchange-signature).
	Signer *deliverysig.Signer
}

// WithRecordKeys sets the record path's keys. Default: random keys made by
// NewWorker, fit for tests only (delivery keys and signatures then change
// with every process; NewWorker logs a warning).
func WithRecordKeys(k RecordKeys) Option {
	return func(w *Worker) {
		w.keysSet = true
		w.router.setKeys(k)
	}
}

// randomRecordKeys are the default keys of a worker given none.
func randomRecordKeys() RecordKeys {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	_, priv, _ := ed25519.GenerateKey(nil)
	return RecordKeys{
		DeliveryKey: func(id string) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(id))
			return m.Sum(nil)
		},
		KeyHash: secret,
		Signer:  deliverysig.NewSigner(priv),
	}
}

// maxCachedDeliveryKeys bounds the router's per-agreement HMACs; past it
// the cache starts over.
const maxCachedDeliveryKeys = 1024

// recordKeys is the router's form of RecordKeys: HMACs made once and reset
// per use (hmac's Reset restores the keyed state without rehashing the
// key), and the batch's signing scratch. Not safe for concurrent use.
type recordKeys struct {
	deliveryKey  func(string) []byte
	perAgreement map[string]hash.Hash
	keyHash      hash.Hash
	signer       *deliverysig.Signer

	trees  map[string][]deliveryRef // deliveries of the batch by agreement
	leaves []deliverysig.Hash
}

// deliveryRef locates one delivery of a batch: results[r].out[o], which is
// results[r].entry.Deliveries[o].
type deliveryRef struct{ r, o int }

func (r *router) setKeys(k RecordKeys) {
	r.keys = recordKeys{
		deliveryKey:  k.DeliveryKey,
		perAgreement: map[string]hash.Hash{},
		keyHash:      hmac.New(sha256.New, k.KeyHash),
		signer:       k.Signer,
		trees:        map[string][]deliveryRef{},
	}
}

// appendKeyHash appends the ledger's key hash of key to dst:
// HMAC-SHA256(KeyHash, key).
func (k *recordKeys) appendKeyHash(dst, key []byte) []byte {
	k.keyHash.Reset()
	k.keyHash.Write(key)
	return k.keyHash.Sum(dst)
}

// appendDeliveryKey appends the Kafka key of o's delivery of a record with
// source key src to dst: src itself when the agreement keeps the field the
// key is, else HMAC-SHA256 under the agreement's delivery-key key. One
// source key gives one delivery key per agreement, so per-key order holds;
// two agreements' consumers cannot join their records on it. A nil key
// stays nil (spread over partitions, as the publisher chose).
func (k *recordKeys) appendDeliveryKey(dst []byte, o *policy.Outcome, src []byte) []byte {
	if o.KeyKept {
		return append(dst, src...)
	}
	m, ok := k.perAgreement[o.AgreementID]
	if !ok {
		if len(k.perAgreement) >= maxCachedDeliveryKeys {
			clear(k.perAgreement)
		}
		m = hmac.New(sha256.New, k.deliveryKey(o.AgreementID))
		k.perAgreement[o.AgreementID] = m
	}
	m.Reset()
	m.Write(src)
	return m.Sum(dst)
}

// sign adds the exchange-signature header to every delivery of results:
// per agreement, its deliveries in batch order make trees of at most
// deliverysig.MaxTreeLeaves leaves (of equal sizes), one Ed25519 signature
// each. Every delivery's headers have a free slot for it (recordHeaders).
func (k *recordKeys) sign(results []recordResult) {
	for agr, refs := range k.trees {
		if len(refs) == 0 {
			delete(k.trees, agr) // an agreement of an earlier plan
		} else {
			k.trees[agr] = refs[:0]
		}
	}
	for i := range results {
		if results[i].entry.Decision != ledger.Delivered {
			continue
		}
		for j := range results[i].entry.Deliveries {
			agr := results[i].entry.Deliveries[j].AgreementID
			k.trees[agr] = append(k.trees[agr], deliveryRef{i, j})
		}
	}
	for agr, refs := range k.trees {
		trees := (len(refs) + deliverysig.MaxTreeLeaves - 1) / deliverysig.MaxTreeLeaves
		size := (len(refs) + trees - 1) / max(trees, 1)
		for len(refs) > 0 {
			n := min(size, len(refs))
			k.signTree(agr, results, refs[:n])
			refs = refs[n:]
		}
	}
}

// signTree signs the deliveries refs of agreement agr as one tree.
func (k *recordKeys) signTree(agr string, results []recordResult, refs []deliveryRef) {
	k.leaves = k.leaves[:0]
	for _, ref := range refs {
		m := &results[ref.r].out[ref.o]
		k.leaves = append(k.leaves, deliverysig.Leaf(&deliverysig.Delivery{
			Agreement:  agr,
			DeliveryID: results[ref.r].entry.Deliveries[ref.o].DeliveryID,
			Topic:      m.Topic, Key: m.Key, Value: m.Value,
		}))
	}
	for i, v := range k.signer.SignTree(agr, k.leaves) {
		m := &results[refs[i].r].out[refs[i].o]
		m.Headers = append(m.Headers, kafka.Header{Key: HeaderSignature, Value: v})
	}
}
