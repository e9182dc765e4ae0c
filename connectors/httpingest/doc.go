// Package httpingest is the HTTP ingest connector: agency systems that do
// not speak Kafka publish a dataset's records with
//
//	POST /api/v1/datasets/{dataset}/records
//	Authorization: Bearer <token of a publisher of the dataset's owner>
//	Idempotency-Key: 6f1c…            (optional)
//	[{"record_id": "r-1", "administered_at": "2026-05-01T09:30:00Z", …}, …]
//
// The body is a JSON array of records of the dataset's latest schema
// (subject ingress.<dataset>-value), each converted exactly as `exchange
// publish` converts a line (publish.Encoder: the same types, unions and
// logical types, the same errors), keyed by the contract's key: field, or
// like publish by record_id when the contract names none.
//
// Answers:
//   - 200 {"accepted": N, "positions": [{"partition", "offset"}, …]}, in
//     the array's order, only after Kafka acknowledged every record with
//     acks=all.
//   - 422 {"errors": [{"index", "field", "message"}, …]} naming every
//     record that does not fit; nothing of the request is produced. Every
//     record is validated before any is produced.
//   - 401 without credentials (the server's authenticator); 403 for a
//     principal that is not an agency system with role publisher of the
//     dataset's owner, naming the missing right; 404 for a dataset the plan
//     in force does not know; 409 when the dataset has no schema yet.
//   - 413 over max_body_bytes (default 4 MiB) or max_records (default 5000).
//   - 429 with Retry-After over the principal's rate: a token bucket per
//     principal, in records (records_per_second default 5000, burst default
//     the larger of max_records and twice the rate).
//   - 503 with Retry-After when Kafka did not acknowledge every record
//     within produce_timeout (default 10s), or the registry or key store
//     cannot be reached. Nothing of the request is reported accepted; some
//     records may have been written (Kafka has no all-or-nothing produce
//     across partitions without transactions, which kafka-go lacks), so a
//     retry may duplicate them: at least once, like any Kafka producer.
//
// # Idempotency-Key
//
// With the header, the first request of a principal with a key claims it
// in the exchange's store (table ingest_idempotency, both backends); its
// answer (200, or 422 on records) is kept for idempotency_ttl (default
// 24h; expired keys are purged hourly) and a retry gets it back, with
// Idempotent-Replayed: true, publishing nothing. The key reused with
// another dataset or body: 422. The same key while the first request is
// in progress: 409. Any other answer (503, 429, 413…) releases the key, so
// the retry publishes. A request that died unanswered (a crash) holds its
// key for at most five minutes (or twice produce_timeout).
//
// # Kafka identity
//
// The handler produces as the exchange's Kafka principal (kafka.principal,
// default User:exchange), through the kafkaclient builders. With
// http_ingest enabled, agreements/acl grants that principal WRITE on the
// ingress topic of each dataset (literal, one ACL per contract), and only
// then: least privilege, and what a disabled connector needs is revoked by
// the next ACL sync. Every record carries the header
// exchange-ingest-principal naming the authenticated HTTP principal it
// was produced for (and traceparent of the request's span); reserved
// exchange-* headers stay on the ingress topic, which only the exchange
// reads, and are stripped before delivery.
//
// Run alone (`exchange connect http-ingest --config exchange.yaml`,
// exchange/app.IngestServer) it produces as the principal of its kafka:
// block: the exchange's, whose WRITE on each ingress topic is the same
// grant (http_ingest enabled in the exchange's configuration), or one
// agency's own user, whose WRITE on its datasets' ingress topics is the
// agency's grant; Kafka then refuses (503) the datasets of other agencies.
//
// # Metrics
//
//	exchange_ingest_requests_total{code}          requests by answer status
//	exchange_ingest_records_total                 records acknowledged and answered 200
//	exchange_ingest_request_duration_seconds      handler time per request
//
// Logs (log/slog) and spans ("http ingest") name the dataset, the
// principal, the status and the record count, never a record's value.
package httpingest
