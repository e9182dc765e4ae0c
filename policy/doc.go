// Package policy compiles contracts, agreements and schemas into an
// immutable Plan and evaluates one record against it: quality rules,
// freshness, and per agreement status, validity, row filter, projection,
// transforms and encoding under the derived schema.
//
// policy is a pure library: it imports cel-go, hamba/avro, the agreements
// model and the standard library; no Kafka, SQL or HTTP (a test enforces it).
package policy
