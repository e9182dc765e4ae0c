// Package indexer builds the SQL ledger from the audit topic (names.Audit of the
// exchange's group).
//
// The worker writes each batch's ledger entries to the audit topic in the
// same acks=all produce as its deliveries, so a record is durably audited in
// Kafka before its source offset is committed. The Indexer consumes that
// topic in its own consumer group (names.IndexerGroup) and writes the
// entries through ledger.Index in large batches: the store chains them, and
// duplicates (a re-processing or a zombie member's write) and refused
// entries are counted and flagged, never chained. The indexer commits an
// audit message's offset only after the Index call that covered it
// returned nil, so a crash at any point re-reads, and the store's
// idempotency absorbs, the uncommitted tail; the index can be rebuilt from
// the topic by a new group that starts at the first offset.
//
// Fetching (one partition reader per assigned audit partition, as the
// worker's group session does) and decoding the next batch overlap the
// Index call of the current one: the next batch is decoded as its messages
// arrive and grows (to MaxBatchEntries) until that call returns, so a
// slower store gets larger, cheaper writes;
// commits happen in batch order from the index goroutine, through the
// consumer group generation the messages were fetched under. A crash
// between an Index call and its commit (failpoint after_index) re-indexes
// that batch: the store counts it as duplicates (and records its malformed
// messages' flags again).
//
// LagWatch measures how far the index is behind the topic (messages, and
// the age of the oldest message not yet indexed) and waits for catch-up
// (read-your-writes audit queries, tests, the bench).
package indexer
