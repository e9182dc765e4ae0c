package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// DeliveryIDLen is the length of a delivery id: 32 lowercase hex digits.
const DeliveryIDLen = 32

// DeliveryID is the stable id of the delivery of the record at
// topic/partition/offset under agreementID, carried in the
// exchange-delivery-id header. It is 16 bytes in hex: a 4-byte tag, the
// first bytes of SHA-256(uvarint length of the agreement id, agreement id,
// source topic), then the source partition
// (4 bytes) and offset (8 bytes), big-endian. Re-processing a record yields
// the same id, so consumers can drop duplicates; and the id locates its
// ledger entry without an index of its own (LocateDelivery), which keeps
// every append free of a random-key index insert.
func DeliveryID(agreementID, topic string, partition int32, offset int64) string {
	return string(AppendDeliveryID(nil, agreementID, topic, partition, offset))
}

// AppendDeliveryID appends DeliveryID(agreementID, topic, partition, offset) to dst.
func AppendDeliveryID(dst []byte, agreementID, topic string, partition int32, offset int64) []byte {
	var in [256]byte
	b := binary.AppendUvarint(in[:0], uint64(len(agreementID)))
	b = append(b, agreementID...)
	b = append(b, topic...)
	sum := sha256.Sum256(b)
	var raw [16]byte
	copy(raw[:4], sum[:4])
	binary.BigEndian.PutUint32(raw[4:8], uint32(partition))
	binary.BigEndian.PutUint64(raw[8:], uint64(offset))
	return hex.AppendEncode(dst, raw[:])
}

// LocateDelivery returns the source partition and offset a delivery id
// names; ok is false when id is not a delivery id (wrong length, not
// lowercase hex, negative partition or offset). The source topic is not in
// the id: the entry is the one at partition/offset of some chain whose
// deliveries hold id.
func LocateDelivery(id string) (partition int32, offset int64, ok bool) {
	if len(id) != DeliveryIDLen {
		return 0, 0, false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, 0, false
		}
	}
	var raw [16]byte
	if _, err := hex.Decode(raw[:], []byte(id)); err != nil {
		return 0, 0, false
	}
	p := binary.BigEndian.Uint32(raw[4:8])
	o := binary.BigEndian.Uint64(raw[8:])
	if p > 1<<31-1 || o > 1<<63-1 {
		return 0, 0, false
	}
	return int32(p), int64(o), true
}
