// Package ledger defines the audit ledger: one append-only, hash-chained
// entry per record decision. It holds no payloads and no field values —
// only source positions, hashes, codes and ids.
//
// # Chains and hashes
//
// Every source topic-partition is one chain. An entry's Seq is its position
// in the chain (1, 2, …), PrevHash the Hash of its predecessor (empty for
// seq 1), and Hash = SHA-256 of Canonical(entry): a versioned
// ("exchange.ledger.entry.v1"), length-prefixed encoding of every field,
// Seq and PrevHash included, with times at microsecond precision. The
// encoding is pinned by a golden test; a change needs a new version tag.
//
// The stores (exchange/store/postgres, exchange/store/sqlite) implement
// Appender: appends are durable on return, idempotent on (topic, partition,
// offset), and serialised per chain inside the database, so neither a retry
// after an unknown outcome nor a writer that lost its partition can fork or
// extend a chain twice. Store errors meaning "database unreachable" wrap
// ErrUnavailable (the runtime fails closed on them and retries); entries
// that can never be stored wrap ErrInvalidEntry.
//
// # Checkpoints
//
// With a signing key, each append ends with an Ed25519-signed Checkpoint
// (chain, seq, hash, time) per chain it extended (every N entries with
// store.WithCheckpointEvery). LoadOrCreateKey keeps the key in a PEM file
// (dev mode: in the data dir) and writes the public key beside it (.pub).
// `exchange audit export` copies checkpoints out of the database; fed back
// with `exchange audit verify --checkpoints FILE` they catch a rewrite of the
// whole database, its checkpoints included.
//
// # Verify
//
// Verify reads a Source chain by chain and names each break: an entry whose
// content no longer matches its hash ("content altered"), an entry altered
// and rehashed (its successor remembers another hash), missing seqs (with
// the offsets around the gap), forks (a seq twice), checkpoints that do not
// verify or cover an entry that is gone or different. Chains whose oldest
// months were archived (AnchorSource) resume from the recorded anchor.
package ledger
