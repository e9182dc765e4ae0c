// Package deliverysig signs deliveries so that a consumer can check that a
// record on its delivery topic was written by the exchange, and that its
// agreement, delivery id, topic, key and value are the ones the exchange
// wrote. It is a pure library (standard library only): the runtime signs
// with it, `exchange consume` and consumers' own tools verify with it.
//
// # Why a tree per batch, not a signature per record
//
// An Ed25519 signature costs about 27 µs on the reference machine; the
// exchange spends about 10 µs per record in all. Signing each delivery
// would cut throughput to a third. Instead the deliveries of one agreement
// in one batch (at most MaxTreeLeaves of them) are the leaves of a Merkle
// tree (RFC 9162, section 2.1), and the exchange signs the tree's root once.
// Each delivery carries the root signature and its own inclusion path, so
// it is still verified alone, without the other records of its batch,
// without state and without a shared secret. A tree holds one agreement's
// deliveries only: the path hashes a consumer sees are of its own records.
//
// # Byte layout (version v1)
//
// All integers are big-endian; str(x) is a 4-byte length then the bytes.
//
//	message = str("exchange.delivery.v1") || str(agreement id) || str(delivery id)
//	          || str(delivery topic) || SHA-256(value) || SHA-256(key)
//	leaf    = SHA-256(0x00 || message)
//	node    = SHA-256(0x01 || left || right)
//	root    = the RFC 9162 Merkle tree hash over the leaves, in order
//	signed  = str("exchange.delivery.root.v1") || str(agreement id) || uint64(tree size) || root
//
// An absent key hashes as the empty string. The header is
//
//	exchange-signature: v1;kid=<key id>;n=<tree size>;i=<leaf index>;path=<base64url>;sig=<base64url>
//
// with path the inclusion path's hashes concatenated (32 bytes each, leaf
// level first; empty for a tree of one) and sig the 64-byte Ed25519
// signature of signed, both unpadded base64url. The key id is the unpadded
// base64url of the first 8 bytes of SHA-256(public key). Verify recomputes
// the leaf, walks the path to the root (RFC 9162, section 2.1.3.2), and
// checks the signature with the public key of that id.
package deliverysig
