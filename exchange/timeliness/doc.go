// Package timeliness keeps the exchange's freshness promise beyond the
// per-record max_age: silence detection (a dataset without an accepted
// record for its contract's expected_every; an active agreement without a
// delivery for its own expected_every), the SLA compliance aggregates
// per dataset and agreement per day, and the notices an agency receives on
// notices.<agency>.
//
// Everything shared lives in the store (sla.Store; package sla holds the
// shapes of what is stored, and the notice's Avro codec), so several exchange
// processes of one consumer group, and a restarted one, agree:
//
//   - Aggregator is the workers' ActivityObserver. It keeps, in memory, each
//     dataset's last accepted decision time, each agreement's last delivery
//     decision time, and the day's counts and lag histograms, and flushes
//     them every FlushInterval (1 s) in one store transaction
//     (AddTimeliness; the last deliveries in a second one, AddDelivered;
//     the per-reason quarantine and warning counts, AddReasons; every skip
//     by dataset, agreement and reason, AddSkips):
//     the record path pays one map update per batch, never a store round
//     trip. It turns quarantined records into
//     notices to the dataset's owner through a Limiter (at most
//     DefaultNoticesPerMinute per dataset per minute, then one summary per
//     reason).
//   - Monitor runs in every process, leader-less: each tick it reads the
//     last accepted time per dataset and the last delivery time per
//     agreement (the maximum over every process's flushes) and the open
//     silences, sets exchange_dataset_silent,
//     exchange_dataset_last_record_timestamp_seconds and
//     exchange_agreement_silent, and opens or closes SLA events (an
//     agreement's notices go to its provider and its consumer; an agreement
//     not active now is not judged). An event is unique on (dataset,
//     agreement, start) and closed only while open, so whichever process
//     wins the insert (or the update) is the one that sends the
//     silence_started (silence_ended) notices: one per event and recipient
//     however many processes run.
//   - Notifier stores each notice (GET /api/v1/notices) and produces it,
//     Avro under the subject notices.<agency>-value, to notices.<agency>
//     with acks=all. Notices are best effort: a produce that keeps failing
//     is logged and counted (exchange_notices_failed_total), and the notice
//     stays readable through the API.
//
// Silence is measured in an sla.Calendar's active time: the Monitor asks
// a SilenceSLA hook for each dataset's limit and calendar, and an
// AgreementSilenceSLA hook for each agreement's (the defaults read
// expected_every, in the freshness calendar's active time when one is
// named, else in wall time). Lag percentiles come from a fixed-bucket
// histogram (sla.LagBounds): bucket k holds lags up to 1 ms·2^(k/2), so a reported
// percentile (the geometric middle of its bucket) is within ±19 % of the
// true one, from 1 ms to about 37 h (beyond: the last bound).
//
// Notices carry codes, positions, counts and times, never a field value:
// the one detail that can quote a record's value (freshness' event time)
// is reduced as the activity log does.
package timeliness
