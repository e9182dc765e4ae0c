package policy

import (
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/schemas"
)

// Input is everything a plan is compiled from. Compile does no I/O itself:
// the caller hands in data and functions.
type Input struct {
	Agencies   []agreements.Agency
	Contracts  []agreements.DataContract
	Agreements []agreements.Agreement
	// Calendars are the working calendars freshness bounds in business
	// time count in (built by the agreements loader).
	Calendars []agreements.Calendar
	// Schemas holds every registered version of every contract's subject.
	// Only Subject, Version, ID and Avro are read.
	Schemas []schemas.SchemaVersion
	// RegisterDerived registers an agreement's derived schema under subject
	// (`deliver.<consumer>.<agreement id>-value`) and returns its global id.
	// It must be idempotent.
	RegisterDerived func(subject string, schema avro.Schema) (int, error)
	// PseudonymKey returns the secret HMAC key of an agreement's pseudonyms.
	PseudonymKey func(agreementID string) []byte
	// SubjectKey keys the hash of the data subject's identifier kept in the ledger.
	SubjectKey []byte
	// Version labels the plan (recorded in the ledger).
	Version string
}

// Record is one ingress record after the wire frame was checked.
type Record struct {
	Dataset  string
	SchemaID int
	Body     []byte // Avro binary, after the 5-byte wire header
}

// Decision is what the plan did with one record.
type Decision struct {
	// Quarantined records go to quarantine.<dataset>; Reasons holds every failing error rule.
	Quarantined bool
	Reasons     []Reason
	// Warnings are warn-level failures (and deliver_flagged staleness); they do not block.
	Warnings []Reason
	// EventTime is the contract's event-time field, zero when there is none.
	EventTime time.Time
	// SubjectHash is the keyed hash of the data subject's identifier, nil when the contract names none.
	SubjectHash []byte
	// Outcomes holds one entry per agreement of the dataset, in plan order; empty when quarantined.
	Outcomes []Outcome
}

// Outcome is one agreement's part of a decision.
type Outcome struct {
	AgreementID string
	Consumer    string
	Topic       string // deliver.<consumer>.<agreement id>
	Delivered   bool
	Skip        string // a Skip* reason when not delivered
	// ContentHash is the compiled terms' hash (AgreementInfo.ContentHash).
	ContentHash string
	// Value is the delivered record in the wire format (magic byte, derived
	// schema id, Avro binary) when Delivered.
	Value []byte
	// KeyKept: the contract declares the field the record's Kafka key is
	// (`key:`) and the agreement delivers that field unchanged (keep), so
	// the source key may go to the consumer as is; otherwise the runtime
	// delivers a keyed hash of it (AgreementInfo.KeyKept).
	KeyKept bool
}
