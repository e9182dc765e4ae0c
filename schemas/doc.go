// Package schemas is the exchange's schema registry: subjects, versions and
// global ids of Avro schemas, compatibility checking, the Confluent wire
// format, a codec cache keyed by schema id, and an HTTP handler compatible
// with the Confluent Schema Registry REST API (mounted at /registry).
package schemas
