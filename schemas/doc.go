// Package schemas is the exchange's schema registry: subjects, versions and
// global ids of Avro schemas, compatibility checking, the Confluent wire
// format and a codec cache keyed by schema id. The Confluent-compatible REST
// handler (mounted at /registry) and the registry client are in
// schemas/registryhttp, so that this package imports no net/http.
//
// # Pieces
//
//   - Store (store.go) is the persistence interface; NewMemoryStore is the
//     in-memory one, exchange/store holds the SQL ones, and
//     schematest.RunStoreConformance is the contract they all pass.
//   - Registry (registry.go) holds the rules: idempotent registration,
//     compatibility per subject with a global default (BACKWARD), the
//     Confluent soft-then-permanent delete protocol, and an OnChange hook.
//   - Compatibility (compat.go) follows the Avro schema-resolution rules;
//     refusals name field path, record, writer and reader type and the
//     rule, e.g.
//     field "age" (record health.Immunisation): writer type "long" cannot
//     be read as reader type "int" (BACKWARD: new schema must read data
//     written with version 2).
//   - ParseFrame/AppendFrame (wire.go) and Codecs (codec.go) handle the
//     wire format (magic byte 0, 4-byte big-endian id, Avro body) with
//     bounded memory; errors are *FrameError and ReasonCode maps them to
//     decode:malformed or schema:unknown_id.
//
// # Limits on accepted schemas
//
// Valid JSON, at most 1 MiB, types nested at most 32 deep
// (WithMaxSchemaDepth), no recursive named types, no arrays of zero-byte
// items (null, fixed of size 0, field-less records), no schema references,
// Avro only. These keep decoding of hostile payloads bounded in stack and
// memory: with the default codec limits (1 MiB per string or bytes value,
// 262,144 items per array) a decoded frame allocates at most about 80 times
// its own size.
//
// # Usage
//
//	reg := schemas.NewRegistry(schemas.NewMemoryStore(),
//		schemas.WithLogger(logger),
//		schemas.WithOnChange(func(subject string) { reload() }))
//	mux.Handle("/registry/", http.StripPrefix("/registry", registryhttp.Handler(reg, logger)))
//
//	codecs := schemas.NewCodecs(reg)
//	id, value, err := codecs.Decode(ctx, kafkaMessage.Value)
//	if code := schemas.ReasonCode(err); code != "" {
//		// quarantine with code
//	}
//
// Kafka clients then use the exchange as their registry unmodified:
// schema.registry.url=http://HOST:PORT/registry.
package schemas
