// What each audited batch did, for an activity observer (the activity log
// of exchange dev and serve): the counts behind the exchange_records_*
// metrics, and the detail of each quarantine reason's first record.

package exchange

import (
	"time"

	"github.com/exchange-gov/exchange/policy"
)

// ActivityObserver is told what each audited batch did, after its offset
// commit, on the worker's audit goroutine: it must be quick and safe for
// concurrent use (workers of a process share one). It may keep the maps.
type ActivityObserver interface {
	ObserveActivity(BatchActivity)
}

// DatasetLabel is a dataset and one label of its counters: an agreement id
// (Delivered) or a reason code (Quarantined, Warned, Details).
type DatasetLabel struct{ Dataset, Label string }

// SkipLabel is the label set of exchange_records_skipped_total.
type SkipLabel struct{ Dataset, Agreement, Reason string }

// BatchActivity is one batch's counts, the same increments as the metrics:
//
//	In           exchange_records_in_total{dataset}
//	Delivered    exchange_records_delivered_total{dataset,agreement}
//	Skipped      exchange_records_skipped_total{dataset,agreement,reason}
//	Quarantined  exchange_records_quarantined_total{dataset,reason}
//	Warned       exchange_records_warned_total{dataset,reason}
//
// Details holds, per quarantine reason, the detail of the batch's first
// record quarantined for it (policy.Reason.Detail: never a field value).
//
// At is the batch's decision time, Produced when its deliveries and
// quarantine copies were acknowledged; Timeliness holds each dataset's
// timeliness facts.
type BatchActivity struct {
	At, Produced time.Time
	Timeliness   map[string]*DatasetTimeliness

	In          map[string]int
	Delivered   map[DatasetLabel]int
	Skipped     map[SkipLabel]int
	Quarantined map[DatasetLabel]int
	Warned      map[DatasetLabel]int
	Details     map[DatasetLabel]string
}

// DatasetTimeliness is what one batch tells about a dataset's timeliness:
// the SLA aggregates, silence detection and the provider's quarantine
// notices are built from it (package timeliness). Positions, counts and
// reason codes only, never a field value.
type DatasetTimeliness struct {
	// Records decided; Quarantined of them were quarantined; Stale carry
	// freshness:stale (quarantined, or delivered flagged under
	// on_stale: deliver_flagged).
	Records, Quarantined, Stale int
	// Agreements holds, per agreement id, what the dataset's records did
	// there.
	Agreements map[string]*AgreementTimeliness
	// Quarantines are the quarantined records, in batch order.
	Quarantines []QuarantinedRecord
}

// AgreementTimeliness is one batch's records under one agreement.
type AgreementTimeliness struct {
	// Delivered records, and records skipped as stale for the agreement's
	// stricter max_age.
	Delivered, Stale int
	// Lags holds, per delivery, the time from the ingress record's Kafka
	// timestamp to the acknowledgement of the delivery's produce (0 when
	// the timestamp is in the future).
	Lags []time.Duration
}

// QuarantinedRecord is where a quarantined record sits and why it was
// quarantined (reason details are the policy's: never a field value but a
// freshness detail's event time, which notices drop).
type QuarantinedRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	SchemaID  int
	Reasons   []policy.Reason
}
