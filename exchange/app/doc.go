// Package app assembles a running exchange from its parts: the embedded or
// external Kafka, the store, the schema registry, the plan built from the
// contracts directory (rebuilt when a file or a schema changes), the record
// workers, the HTTP surface (with the index of Surfaces at /) and the
// activity log, run as one group where the first to fail stops all. `exchange dev` and `exchange serve` are thin wrappers over it.
package app
