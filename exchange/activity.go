// What each audited batch did, for an activity observer (the activity log
// of exchange dev and serve): the counts behind the exchange_records_*
// metrics, and the detail of each quarantine reason's first record.

package exchange

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
type BatchActivity struct {
	In          map[string]int
	Delivered   map[DatasetLabel]int
	Skipped     map[SkipLabel]int
	Quarantined map[DatasetLabel]int
	Warned      map[DatasetLabel]int
	Details     map[DatasetLabel]string
}
