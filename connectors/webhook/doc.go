// Package webhook delivers an agreement's deliveries to its consumer
// agency's HTTPS endpoint, for consumers that cannot run a Kafka client.
// It is a principal of IDENTITY.md: it connects to Kafka and the registry
// as the consumer agency, reads deliver.<consumer>.<agreement> in the
// consumer group <consumer>.webhook.<agreement> (names.WebhookGroup), and
// POSTs each delivery as JSON.
//
//	c, err := webhook.New(endpoint, webhook.Logger(log), webhook.WithMetrics(m))
//	...
//	defer c.Close()
//	err = c.Run(ctx) // until ctx ends
//
// It runs inside `exchange dev`/`serve` (`connectors: webhooks:` in
// exchange.yaml) or alone: `exchange connect webhook --config FILE`.
//
// # The request
//
// One POST per delivery, to the endpoint's URL:
//
//	Content-Type: application/json
//	Idempotency-Key: <exchange-delivery-id>
//	Exchange-Agreement, Exchange-Delivery-Id, Exchange-Source,
//	Exchange-Event-Time, Traceparent: the delivery's Kafka headers
//	Exchange-Schema-Id: the registry id of the derived schema
//	Exchange-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// The body is the delivered record decoded with the agreement's derived
// schema, in the JSON mapping of `exchange publish` and `exchange consume`
// (publish.ToJSON). The delivery's Kafka exchange-signature (Ed25519 over
// the Avro bytes, package deliverysig) is not forwarded: the receiver does
// not get those bytes, and the HMAC authenticates the body it does get.
// Other Kafka headers (a publisher's own) are not forwarded either.
//
// # Verifying a request (receivers in any language)
//
// The secret is shared with the receiver out of band, per endpoint (the
// connector reads it from secret_file). To verify:
//
//  1. Split the Exchange-Signature value on "," into key=value pairs; take
//     t (unix seconds) and every v1 (lowercase hex).
//  2. Refuse the request when |now - t| exceeds the tolerance (5 minutes is
//     the default, DefaultTolerance): it is a replay.
//  3. Compute HMAC-SHA256 with the secret as key over the bytes of t as
//     sent, a ".", then the raw body exactly as received (before parsing).
//  4. Accept when it equals one v1 value, compared in constant time.
//  5. Drop a duplicate by its Idempotency-Key (a delivery is posted again
//     after a timeout or a restart; the key is the same every time).
//
// Verify does this in Go. Each attempt is signed anew, so a retry carries a
// fresh t. It is the scheme of Stripe's webhooks (t=…,v1=…). The secret is
// read when the connector starts: to rotate it, have the receiver accept
// the old and the new secret, change the file, restart the connector.
//
// Logs name the agreement, partition, offset, status code and error, never
// a record's content, the secret, or the URL's query string.
//
// # Guarantees
//
//   - Nothing lost, nothing skipped: a partition's offset is committed only
//     after the endpoint answered 2xx to its delivery, and only through the
//     generation that fetched it. A delivery that fails is retried forever,
//     with exponential backoff and full jitter between min_backoff and
//     max_backoff (at least the receiver's Retry-After); its partition is
//     held meanwhile: its lag grows, nothing after it is posted.
//   - A delivery that cannot be decoded (registry unreachable, schema id
//     unknown to it) is held the same way: retried, never skipped.
//   - Per-key order: one delivery in flight per partition, in offset order;
//     the exchange writes every key to one partition.
//   - At least once: a delivery acknowledged but not yet committed when the
//     connector stops, or whose POST timed out after the receiver took it,
//     is posted again with the same Idempotency-Key.
//   - Which answers are failures: anything but 2xx, including 3xx
//     (redirects are not followed: the body goes nowhere the configuration
//     does not name), timeouts and connection errors. A 4xx other than 408
//     and 429 most likely repeats on retry; it is still retried (nothing is
//     dropped is the rule) but logged at error level at once, and after
//     alert_after it raises exchange_webhook_failing like any failure.
//   - Suspension and revocation stop the webhook: the exchange removes the
//     consumer's READ on the delivery topic; the connector probes its
//     access every authz_interval (kafka-go's Reader hides the refusal) and,
//     while refused, posts and commits nothing, logs the refusal and sets
//     exchange_webhook_authorized to 0. Access restored (a suspension
//     lifted), it resumes where it stopped. A record already in flight when
//     the refusal happens may still be posted, within one authz_interval.
//
// # Metrics
//
//	exchange_webhook_deliveries_total{agreement,code}  POST attempts by HTTP status, or code="error"
//	exchange_webhook_retries_total{agreement}          attempts that repeated a failed delivery
//	exchange_webhook_lag{agreement,partition}          deliveries of the partition not yet acknowledged
//	exchange_webhook_failing{agreement}                1 while a delivery has failed for longer than alert_after (the alert)
//	exchange_webhook_authorized{agreement}             0 while the brokers deny the consumer its topic or group
//
// The failing gauge is re-evaluated at each attempt, so it turns 1 at most
// one max_backoff after alert_after. The alert rules are in
// deploy/prometheus (ExchangeWebhookFailing, ExchangeWebhookUnauthorized).
package webhook
