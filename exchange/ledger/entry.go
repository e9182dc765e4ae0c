package ledger

import "time"

// Decision is the overall outcome of one record.
type Decision string

const (
	// Delivered: at least one agreement received the record.
	Delivered Decision = "delivered"
	// Dropped: the record passed the dataset's checks but no agreement received it
	// (deny by default, filters, inactive agreements).
	Dropped Decision = "dropped"
	// Quarantined: the record went to quarantine.<dataset> with its reasons.
	Quarantined Decision = "quarantined"
)

// Delivery is one copy of a record written to a consumer's delivery topic.
type Delivery struct {
	AgreementID string
	Topic       string
	DeliveryID  string
	// ContentHash is the content hash of the agreement terms the record
	// was delivered under (agreements.(*Agreement).ContentHash): the
	// delivery proves which approved terms it went by. Empty in entries
	// written before deliveries carried it.
	ContentHash string
}

// Skip is one agreement that did not receive the record, and why (a policy Skip* reason).
type Skip struct {
	AgreementID string
	Reason      string
}

// Entry is the audit of one record decision. Identity is (Topic, Partition,
// Offset): appending an entry whose identity already exists is a no-op, so
// re-processing after a crash or rebalance leaves exactly one entry.
type Entry struct {
	// Source position: the identity of the entry.
	Topic     string
	Partition int32
	Offset    int64

	Dataset string
	// KeyHash is HMAC-SHA256 of the record key under the exchange's ledger
	// key (a plain SHA-256 of a guessable key is reversed by trying
	// candidates); entries written before keyed key hashes hold the plain
	// SHA-256, and keep it: the chain covers the bytes. Nil when the key is nil.
	KeyHash     []byte
	PayloadHash []byte // SHA-256 of the record value as received
	SchemaID    int    // 0 when the frame could not be read
	Decision    Decision
	Reasons     []string // reason codes (quarantine reasons and warnings)
	Deliveries  []Delivery
	Skips       []Skip
	PlanVersion string
	// SubjectHash is a keyed hash of the data subject's identifier, when the contract names one.
	SubjectHash  []byte
	EventTime    time.Time // zero when unknown
	DecisionTime time.Time

	// Chain fields, set by the store on append: the entry's position in its
	// chain (one chain per source topic-partition), the hash of its
	// predecessor and its own hash.
	Seq      int64
	PrevHash []byte
	Hash     []byte
}
