// Package policy compiles contracts, agreements and schemas into an
// immutable Plan and evaluates one record against it: quality rules,
// freshness, and per agreement status, validity, row filter, projection,
// transforms and encoding under the derived schema.
//
// policy is a pure library: it imports cel-go, hamba/avro, the agreements
// model and the standard library; no Kafka, SQL or HTTP (TestImportBan
// enforces it with `go list -deps`).
//
// Usage:
//
//	plan, err := policy.Compile(policy.Input{Contracts: cs, Agreements: as, Schemas: ss,
//		RegisterDerived: registry.Register, PseudonymKey: keys.For, SubjectKey: k, Version: v})
//	if err != nil { // agreements.Problems: every problem, positioned
//		return err
//	}
//	holder.Store(plan) // *Holder: atomic swap while records flow
//	d := holder.Load().Evaluate(policy.Record{Dataset: ds, SchemaID: id, Body: body}, time.Now())
//	// d.Quarantined with d.Reasons, or one d.Outcomes entry per agreement of the dataset
//
// Check(in) runs the schema-dependent validation only (for `exchange
// agreement validate`); agreements.Validate does the model-only checks.
//
// # Compile
//
// Per dataset the plan holds its contract, the latest version of its subject
// (the reader schema), a decoder per registered version resolved to the
// latest by schemas/resolve, the Avro resolution the registry's
// compatibility check also uses (a version that cannot be resolved is not
// accepted: its records are quarantined schema:unresolvable; a writer union
// branch or enum symbol the latest cannot read quarantines only the records
// that use it),
// the CEL programs of its quality rules, and its agreements ordered by id.
// Each agreement gets a derived Avro schema (its allowed fields in allow-list
// order with their transformed types; record named after the agreement, doc
// naming purpose and legal basis) registered through Input.RegisterDerived as
// deliver.<consumer>.<agreement id>-value; its id goes into every delivered
// wire frame. Without RegisterDerived, ids are assigned locally (WithLocalIDBase).
//
// # Evaluate
//
// In order: the dataset must be in the plan (dataset:unknown), the schema id
// registered (schema:unknown_id) and a version of the dataset's subject
// (schema:not_allowed_for_dataset); the body must decode completely
// (decode:malformed; length prefixes beyond the body, bad varints, union or
// enum indexes and trailing bytes are all malformed, before any allocation).
// Then every quality rule runs (error severity: quarantine with every failing
// rule's quality:<name>; warn: Decision.Warnings) and freshness is judged
// (freshness:missing_event_time, freshness:future beyond the clock skew,
// freshness:stale quarantined or, with on_stale deliver_flagged, a warning).
// A max age in business time (2 business_days) counts the active time of the
// contract's calendar (Input.Calendars) between the event time and now: the
// walk over days stops once the bound is passed, so an old record costs no
// more than a fresh one. The future check stays wall-clock time.
// A record that passes goes to each agreement of its dataset unless skipped:
// not active (suspended, revoked, expired, not_active), outside its validity
// window (not_yet_valid, expired), older than its stricter max age (stale),
// or refused by its row filter (filter). Deny by default: a dataset without
// agreements delivers nowhere.
//
// # CEL
//
// Rules and filters see `record`, typed from the latest schema (a misspelt
// field or a non-boolean rule is a compile problem). A null field evaluates
// as null: `record.phone == null` works, `record.phone.size() > 0` over a
// null phone is an evaluation error. An evaluation error never panics: it
// fails the rule (the reason detail names the rule, never a value) or skips
// the agreement (filter, fail closed).
//
// # Transforms
//
// keep, redact (null; the type becomes nullable), pseudonymize (HMAC-SHA256
// keyed per agreement, hex or base64url: stable within an agreement,
// unlinkable across agreements), hash (SHA-256 hex, unkeyed; refused on
// sensitive fields), truncate N and mask keep_last N (runes, on strings),
// generalize year|month|day (date, timestamp-millis, timestamp-micros) and
// generalize {bucket: N} (floor to a multiple of N; int, long, float, double).
// A field the contract does not classify is treated as sensitive. A nullable
// union ["null", T] is transformed on T; null passes through.
//
// # Performance
//
// Decoders and encoders are compiled per (writer schema, agreement): the body
// is decoded into a pooled slice of values indexed by field, strings point
// into the body, fields nobody reads are skipped, nested records are kept as
// raw spans unless read, CEL reads fields lazily through typed getters, and
// the derived record is written straight into the output buffer. See
// BenchmarkEvaluate.
package policy
