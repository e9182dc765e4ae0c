package sla

import (
	"fmt"
	"regexp"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/exchange-gov/exchange/schemas"
)

// Notice kinds.
const (
	KindQuarantine          = "quarantine"
	KindQuarantineSummary   = "quarantine_summary"
	KindSilenceStarted      = "silence_started"
	KindSilenceEnded        = "silence_ended"
	KindAgreementTransition = "agreement_transition"
	// KindAccessRequest: an access request of the catalog was filed
	// (Reason "requested") or decided ("accepted", "rejected"); both
	// agencies are told.
	KindAccessRequest = "access_request"
)

// Notice is one message to an agency on notices.<agency>: what happened to
// its records or flows, with codes, positions, counts and times, never a
// field value. Fields that do not apply are empty, -1 (Partition, Offset)
// or 0 (SchemaID, Count).
type Notice struct {
	// ID is the store's sequence number (0 until stored; not in the Avro
	// value).
	ID int64 `avro:"-" json:"id"`
	// Agency is the recipient.
	Agency    string `avro:"agency" json:"agency"`
	Kind      string `avro:"kind" json:"kind"`
	Dataset   string `avro:"dataset" json:"dataset"`
	Agreement string `avro:"agreement" json:"agreement"`
	// Reason is a reason code (quarantine), or the new status (agreement
	// transition).
	Reason string `avro:"reason" json:"reason"`
	Detail string `avro:"detail" json:"detail"`
	// Topic, Partition and Offset locate the source record (quarantine).
	Topic     string `avro:"topic" json:"topic"`
	Partition int32  `avro:"partition" json:"partition"`
	Offset    int64  `avro:"offset" json:"offset"`
	SchemaID  int32  `avro:"schema_id" json:"schema_id"`
	// Count of records a summary stands for.
	Count int64 `avro:"count" json:"count"`
	// WindowStart and WindowEnd bound a summary's records, or a silence.
	WindowStart *time.Time `avro:"window_start" json:"window_start,omitempty"`
	WindowEnd   *time.Time `avro:"window_end" json:"window_end,omitempty"`
	At          time.Time  `avro:"at" json:"at"`
}

// NoticeSchema is the Avro schema of notices, registered under
// notices.<agency>-value.
const NoticeSchema = `{
  "type": "record", "name": "Notice", "namespace": "exchange.notices",
  "doc": "A notice of the exchange to an agency: quarantined records of its datasets (codes and positions, never values), summaries of quarantine floods, silences of its datasets, agreement transitions, access requests filed and decided.",
  "fields": [
    {"name": "agency", "type": "string", "doc": "The recipient agency."},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["quarantine", "quarantine_summary", "silence_started", "silence_ended", "agreement_transition", "access_request"]}},
    {"name": "dataset", "type": "string", "default": ""},
    {"name": "agreement", "type": "string", "default": ""},
    {"name": "reason", "type": "string", "default": "", "doc": "Reason code (<stage>:<detail>), the agreement's new status, or what became of an access request (requested, accepted, rejected)."},
    {"name": "detail", "type": "string", "default": "", "doc": "What the rule or check said; never a field value."},
    {"name": "topic", "type": "string", "default": "", "doc": "Source topic of a quarantined record."},
    {"name": "partition", "type": "int", "default": -1},
    {"name": "offset", "type": "long", "default": -1},
    {"name": "schema_id", "type": "int", "default": 0, "doc": "Writer schema id of a quarantined record (0: not in the wire format)."},
    {"name": "count", "type": "long", "default": 0, "doc": "Records a summary stands for."},
    {"name": "window_start", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": null},
    {"name": "window_end", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": null},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}`

var noticeSchema = avro.MustParse(NoticeSchema)

// EncodeNotice returns n as a value in the Confluent wire format under
// schema id.
func EncodeNotice(n *Notice, id int) ([]byte, error) {
	body, err := avro.Marshal(noticeSchema, n)
	if err != nil {
		return nil, fmt.Errorf("encoding %s notice: %w", n.Kind, err)
	}
	return append(schemas.AppendFrame(make([]byte, 0, 5+len(body)), id), body...), nil
}

// DecodeNotice parses a notice value in the wire format.
func DecodeNotice(v []byte) (Notice, error) {
	var n Notice
	_, body, err := schemas.ParseFrame(v)
	if err != nil {
		return n, err
	}
	if err := avro.Unmarshal(noticeSchema, body, &n); err != nil {
		return n, fmt.Errorf("decoding notice: %w", err)
	}
	return n, nil
}

// eventTime matches a freshness detail's quote of the record's event time
// ("event time 2026-06-15T11:00:00Z is 1h0m0s old, ..."), a value of the
// record: notices keep the lag and the bound only (as the activity log).
var eventTime = regexp.MustCompile(`event time \d{4}-\d{2}-\d{2}T\S+`)

// WithoutValues drops what of a policy reason detail can be a record's
// value: a freshness detail's event time.
func WithoutValues(detail string) string {
	return eventTime.ReplaceAllString(detail, "event time (see the ledger)")
}
