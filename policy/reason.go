package policy

// Reason codes are `<stage>:<detail>`. This catalogue is the one source of
// truth: the same strings are the `exchange-reason` header, the ledger's
// reason column and the `reason` metric label.
const (
	ReasonDecodeMalformed  = "decode:malformed"
	ReasonDecodeTombstone  = "decode:tombstone" // null value
	ReasonSchemaUnknownID  = "schema:unknown_id"
	ReasonSchemaNotAllowed = "schema:not_allowed_for_dataset"
	// ReasonSchemaUnresolvable: the record decodes under its writer schema
	// but cannot be resolved to the plan's, or its dataset's schemas do not
	// compile with its contract and agreements (Plan.Broken).
	ReasonSchemaUnresolvable = "schema:unresolvable"
	ReasonFreshnessStale     = "freshness:stale"
	ReasonFreshnessFuture    = "freshness:future" // event time beyond the allowed clock skew
	ReasonFreshnessMissing   = "freshness:missing_event_time"
	ReasonSizeTooLarge       = "size:too_large"
	ReasonHeadersInvalid     = "headers:invalid"
	ReasonDatasetUnknown     = "dataset:unknown" // the plan has no contract for the record's dataset
	reasonQualityPrefix      = "quality:"
)

// Skip reasons: why an agreement did not receive a record that passed the
// dataset's checks.
const (
	SkipFilter      = "filter"
	SkipNotYetValid = "not_yet_valid"
	SkipExpired     = "expired"
	SkipSuspended   = "suspended"
	SkipRevoked     = "revoked"
	SkipNotActive   = "not_active"    // draft, proposed or approved but not yet activated
	SkipStale       = "stale"         // older than the agreement's stricter max age
	SkipEncode      = "encode_failed" // could not be encoded under the derived schema (a plan bug; never delivered half-done)
	// SkipNotApproved: the agreement's stored state is for other terms
	// than the compiled ones (a file changed terms nobody approved).
	SkipNotApproved = "not_approved"
	// SkipNotRecorded: the store holds no lifecycle state for the agreement
	// (a file nobody proposed through a steward action).
	SkipNotRecorded = "not_recorded"
)

// QualityReason is the reason code of a failed quality rule.
func QualityReason(rule string) string { return reasonQualityPrefix + rule }

// Reason is a reason code with a human-readable detail. Details never hold
// field values: they end up in headers and logs. They quote policy text
// (a rule's expression and description) and, for freshness, the record's
// event time, which the ledger entry and exchange-event-time carry anyway.
type Reason struct {
	Code   string
	Detail string
}
