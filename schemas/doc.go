// Package schemas is the exchange's schema registry: subjects, versions and
// global ids of Avro schemas, compatibility checking and the Confluent wire
// format. The Confluent-compatible REST handler (mounted at /registry) and
// the registry client are in schemas/registryhttp, so that this package
// imports no net/http and the pure policy package may use its types.
//
// # Pieces
//
//   - Store (store.go) is the persistence interface; NewMemoryStore is the
//     in-memory one, exchange/store holds the SQL ones, and
//     schematest.RunStoreConformance is the contract they all pass.
//   - Registry (registry.go) holds the rules: idempotent registration,
//     compatibility per subject with a global default (BACKWARD), the
//     Confluent soft-then-permanent delete protocol, and an OnChange hook.
//     SchemaVersion is one version of a subject with its parsed schema, the
//     one type the registry, the policy compiler and the publisher share.
//   - Compatibility (compat.go) refuses a version when schemas/resolve, the
//     one Avro schema resolution (shared with the policy's decoders), reports
//     a problem; refusals name field path, record, writer and reader type and the
//     rule, e.g.
//     field "age" (record health.Immunisation): writer type "long" cannot
//     be read as reader type "int" (BACKWARD: new schema must read data
//     written with version 2).
//   - ParseFrame/AppendFrame (wire.go) handle the wire format (magic byte 0,
//     4-byte big-endian id, Avro body); errors are *FrameError matching
//     ErrMalformedFrame, which the runtime quarantines as decode:malformed.
//     Bodies are decoded by the policy package's compiled decoders.
//
// # Limits on accepted schemas
//
// Valid JSON, at most 1 MiB, types nested at most 32 deep, no recursive
// named types, no arrays of zero-byte items (null, fixed of size 0,
// field-less records), no schema references, Avro only. These keep
// decoding of hostile payloads bounded in stack and memory.
//
// # Usage
//
//	reg := schemas.NewRegistry(schemas.NewMemoryStore(),
//		schemas.WithLogger(logger),
//		schemas.WithOnChange(func(subject string) { reload() }))
//	id, err := reg.Register(ctx, "ingress.health.immunisations-value", schemaJSON)
//	v, err := reg.Latest(ctx, "ingress.health.immunisations-value")
//
//	id, body, err := schemas.ParseFrame(kafkaMessage.Value)
package schemas
