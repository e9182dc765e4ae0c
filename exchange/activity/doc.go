// Package activity is the readable activity log of a running exchange
// (`exchange dev` and `serve`): while records flow, one summary line per
// dataset per interval (records in, delivered per agreement, quarantined
// by reason, skipped by agreement and reason), and the first record
// quarantined for each reason of a dataset with the reason's detail.
// Nothing is logged while the exchange is idle.
//
// It is fed by the workers' per-batch counts (exchange.WithActivity), the
// same increments as the exchange_records_* metrics, so its lines add up to
// /metrics. It logs dataset names, agreement ids, reason codes, counts and
// reason details (policy text, lags and bounds), never field values: a
// freshness detail's event time, which is a value of the record, is left out.
package activity
