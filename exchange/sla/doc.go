// Package sla holds what the exchange keeps about timeliness, and the
// store interface that keeps it (Store, implemented by both store
// backends): silences as SLA events, per-day SLA aggregates with their
// publish→delivery lag histogram (fixed buckets, LagBounds: percentiles
// within ±19 %), and the notices sent to agencies with their Avro schema
// and codec (registered as notices.<agency>-value); Report turns
// aggregates and events into the day reports of GET /api/v1/sla.
//
// It imports no runtime package, so the store backends and the HTTP API
// use it without depending on the runtime; package timeliness produces
// what it describes (the aggregator, the silence monitor, the notifier).
package sla
