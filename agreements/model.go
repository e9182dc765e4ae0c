package agreements

import (
	"time"

	"github.com/exchange-gov/exchange/agreements/calendar"
)

// Document kinds accepted in a YAML file (the top-level `kind:` key).
const (
	KindDataContract = "DataContract"
	KindAgreement    = "Agreement"
	KindAgency       = "Agency"
	KindCalendar     = "Calendar"
)

// Pos is a position in a source file, 1-based. The zero Pos means "unknown".
type Pos struct {
	File   string
	Line   int
	Column int
}

// Classification is the sensitivity of one field of a dataset.
type Classification string

const (
	Public    Classification = "public"
	Internal  Classification = "internal"
	Personal  Classification = "personal"
	Sensitive Classification = "sensitive"
)

// Severity of a quality rule: an error quarantines the record, a warning only flags it.
type Severity string

const (
	SeverityError Severity = "error"
	SeverityWarn  Severity = "warn"
)

// OnStale says what happens to a record older than the freshness max age.
type OnStale string

const (
	StaleQuarantine     OnStale = "quarantine"
	StaleDeliverFlagged OnStale = "deliver_flagged"
)

// Status is an agreement's lifecycle state.
type Status string

const (
	StatusDraft     Status = "draft"
	StatusProposed  Status = "proposed"
	StatusApproved  Status = "approved"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusRevoked   Status = "revoked"
	StatusExpired   Status = "expired"
)

// Agency is a government body that publishes and receives data.
type Agency struct {
	ID       string   // lowercase slug: health, social-services
	Name     string   // display name
	Stewards []string // people who may approve agreements for this agency
	Pos      Pos
	// Description is optional free text (YAML `description:`).
	Description string
	// KeyPos holds the position of each key's value, keyed by YAML path
	// ("id", "stewards"), for validation messages.
	KeyPos map[string]Pos
	// invalid holds the YAML paths whose values the loader already
	// reported, so that Validate does not report them again as missing.
	invalid map[string]bool
}

// FieldClass is the classification of one top-level schema field.
type FieldClass struct {
	Name  string
	Class Classification
	Pos   Pos
}

// QualityRule is a CEL boolean expression over `record`; false means the rule failed.
type QualityRule struct {
	Name     string
	Rule     string // CEL source
	Severity Severity
	Pos      Pos // position of the rule expression
	// Description is optional free text (YAML `description:`): why the
	// rule exists; quarantine details quote it.
	Description string
}

// Freshness is a dataset's freshness SLA.
type Freshness struct {
	EventTime string // field holding the event time (timestamp-millis/micros, date, or RFC 3339 string)
	// Calendar names the Calendar document whose active time the business
	// durations count (YAML `calendar:`); "" when none.
	Calendar      string
	MaxAge        calendar.Duration // older than this when evaluated = stale; zero = no limit
	ExpectedEvery calendar.Duration // longest silence allowed between records; zero = no SLA
	OnStale       OnStale
	Pos           Pos
}

// Calendar is a working calendar (`kind: Calendar`): the timezone, working
// days and hours, and holidays that business durations count in. The
// fields hold the values as written; Calendar() is the calendar built from
// them when they decoded without a problem.
type Calendar struct {
	ID          string
	Description string
	Timezone    string   // IANA name, e.g. Europe/London
	Days        []string // mon..sun
	Hours       []string // "08:00-18:00"; none: all day
	Holidays    []string // dates, 2006-01-02
	// HolidaysFile is an iCalendar file, relative to the document's file,
	// whose all-day events are holidays too.
	HolidaysFile string
	Pos          Pos
	KeyPos       map[string]Pos
	invalid      map[string]bool
	built        *calendar.Calendar
}

// Calendar is the calendar built from the document; nil when it had a
// problem.
func (c *Calendar) Calendar() *calendar.Calendar { return c.built }

// DataContract describes one dataset: its schema subject, the classification
// of its fields, quality rules and freshness SLA. Owned by the providing agency.
type DataContract struct {
	Dataset string // <agency>.<name>
	Owner   string // agency id
	Subject string // registry subject whose versions the dataset accepts
	// DataSubject names the field holding the data subject's identifier
	// (YAML `data_subject:`); the ledger stores a keyed hash of it so that an
	// authorised query can list who received data about one person.
	DataSubject string
	// Key names the field whose value the records' Kafka key is (YAML
	// `key:`): an agreement that keeps that field receives the source key
	// unchanged; every other delivery carries a keyed hash of it. Empty:
	// every delivery key is derived.
	Key       string
	Fields    []FieldClass // in file order
	Quality   []QualityRule
	Freshness *Freshness // nil: no freshness checks
	Pos       Pos        // position of the document
	// Description is optional free text (YAML `description:`).
	Description string
	// KeyPos holds the position of each key's value, keyed by YAML path
	// ("dataset", "owner", "fields.age", "quality.0.severity",
	// "freshness.max_age"), for validation messages.
	KeyPos map[string]Pos
	// invalid holds the YAML paths whose values the loader already
	// reported, so that Validate does not report them again.
	invalid map[string]bool
}

// TransformKind names a per-field transform in an agreement.
type TransformKind string

const (
	Keep         TransformKind = "keep"
	Redact       TransformKind = "redact"
	Pseudonymize TransformKind = "pseudonymize"
	Hash         TransformKind = "hash"
	Truncate     TransformKind = "truncate"
	Mask         TransformKind = "mask"
	Generalize   TransformKind = "generalize"
)

// Transform is how one allowed field is delivered.
type Transform struct {
	Kind TransformKind
	// N is the argument of truncate (characters kept) and mask (keep_last).
	N int
	// Unit is the generalize granularity for dates and timestamps: year, month or day.
	Unit string
	// Bucket is the generalize bucket width for numbers (`generalize: {bucket: N}`).
	Bucket float64
}

// FieldRule is one entry of an agreement's allow-list.
type FieldRule struct {
	Name      string
	Transform Transform
	Pos       Pos
}

// Approval is one steward's approval of an agreement.
type Approval struct {
	Agency  string // provider or consumer agency id
	Steward string
	At      time.Time
}

// Transition records one lifecycle change: who moved the agreement, when, and why.
type Transition struct {
	From   Status
	To     Status
	By     string
	At     time.Time
	Reason string
}

// Agreement is a data-sharing agreement: one provider dataset to one consumer agency.
type Agreement struct {
	ID         string
	Provider   string // dataset id
	Consumer   string // agency id
	Purpose    string
	LegalBasis string
	ValidFrom  time.Time
	ValidUntil time.Time
	Fields     []FieldRule // allow-list, in file order
	Filter     string      // optional CEL row filter over `record`
	// MaxAge, when non-zero, is a freshness limit stricter than the contract's.
	MaxAge calendar.Duration
	// ExpectedEvery, when non-zero, is a silence SLA stricter than the contract's.
	ExpectedEvery calendar.Duration
	// Calendar names the calendar of the agreement's business durations; ""
	// inherits the contract's.
	Calendar  string
	Status    Status
	Approvals []Approval
	History   []Transition
	Pos       Pos
	// Positions of individual keys, for validation messages; keyed by YAML path
	// such as "filter", "valid_until", "fields.citizen_id".
	KeyPos map[string]Pos
	// invalid holds the YAML paths whose values the loader already
	// reported, so that Validate does not report them again.
	invalid map[string]bool
}
