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
	return NewDeliveryTag(agreementID, topic).AppendID(dst, partition, offset)
}

// DeliveryTag is the first part of a delivery id. It depends only on the
// agreement and the source topic, so a caller writing many ids may compute
// it once per pair.
type DeliveryTag [4]byte

// NewDeliveryTag returns the tag of the deliveries of agreementID from topic.
func NewDeliveryTag(agreementID, topic string) DeliveryTag {
	var in [256]byte
	b := binary.AppendUvarint(in[:0], uint64(len(agreementID)))
	b = append(b, agreementID...)
	b = append(b, topic...)
	sum := sha256.Sum256(b)
	return DeliveryTag(sum[:4])
}

// AppendID appends the delivery id of the record at partition/offset.
func (t DeliveryTag) AppendID(dst []byte, partition int32, offset int64) []byte {
	var raw [16]byte
	copy(raw[:4], t[:])
	binary.BigEndian.PutUint32(raw[4:8], uint32(partition))
	binary.BigEndian.PutUint64(raw[8:], uint64(offset))
	return hex.AppendEncode(dst, raw[:])
}

// TagCache remembers delivery tags by agreement and topic (make one with
// TagCache{}). Not safe for concurrent use.
type TagCache map[tagKey]DeliveryTag

type tagKey struct{ agreement, topic string }

// maxCachedTags bounds a TagCache: past it the cache starts over.
const maxCachedTags = 4096

// tag returns the delivery tag of agreementID and topic.
func (c TagCache) tag(agreementID, topic string) DeliveryTag {
	k := tagKey{agreementID, topic}
	if t, ok := c[k]; ok {
		return t
	}
	if len(c) >= maxCachedTags {
		clear(c)
	}
	t := NewDeliveryTag(agreementID, topic)
	c[k] = t
	return t
}

// AppendDeliveryID appends the delivery id of agreementID's delivery of the
// record at topic/partition/offset to dst, computing the tag at most once
// per agreement and topic.
func (c TagCache) AppendDeliveryID(dst []byte, agreementID, topic string, partition int32, offset int64) []byte {
	return c.tag(agreementID, topic).AppendID(dst, partition, offset)
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
