// Package exchange is the runtime: the consumer-group loop that routes every
// ingress record through the policy plan to delivery and quarantine topics,
// the ledger writes that precede each offset commit, plan reloads, the HTTP
// server, metrics, tracing and dev mode.
//
// # The record loop
//
// A Worker is one member of the consumer group over every dataset's
// ingress.<dataset> topic (one kafka-go ConsumerGroup; per generation one
// partition Reader per assigned partition, FetchMessage only; commits
// through the generation's CommitOffsets). Per batch (up to WorkerConfig.MaxBatchRecords records from
// any of its partitions, or what arrived within Linger of the first):
//
//  1. read the current plan once: every record of the batch is decided on it;
//  2. per record: strip reserved exchange-* headers, bound headers and size,
//     check the wire frame, Plan.Evaluate, build deliveries (headers
//     exchange-agreement, exchange-delivery-id, exchange-source,
//     exchange-event-time, traceparent; the key a keyed hash of the source
//     key per agreement) or the quarantine copy (original bytes and headers
//     plus exchange-reason, exchange-detail); then sign the batch's
//     deliveries (exchange-signature, one Ed25519 signature per agreement's
//     tree of up to 128 deliveries, package deliverysig);
//  3. produce every delivery and quarantine copy synchronously with acks=all,
//     retrying failures (never skipping);
//  4. append one ledger entry per record (fail closed: retried while the
//     ledger is down, consumption paused);
//  5. commit, per partition, the offset after the highest one of the batch's
//     records fetched under the current group generation, with that
//     generation's id (the broker refuses it once the generation is over).
//
// Steps 1-2, 3 and 4-5 run as a three-stage pipeline over consecutive
// batches, each stage in batch order. A crash anywhere re-processes from the
// last commit; duplicates carry the same exchange-delivery-id and the ledger
// is idempotent on source position. A record fetched at a position the
// ledger already audited is first compared with the entry there: another
// record at that position (an ingress topic deleted and created again)
// halts the partition before it is delivered (positionGuard). Why each
// kafka-go setting is what it is (the library's known traps) is commented
// where it is set.
//
// # Files
//
//	config.go      WorkerConfig = KafkaConfig (the kafka: block) + Tuning (the worker: block),
//	               their defaults (declared once) and validation; the Options
//	worker.go      Worker, NewWorker, Ready, Run (plan wait, restarts, drain)
//	session.go     the group session, its generations, the generation-bound commit
//	fetch.go       one reader per assigned partition; the position check (halt)
//	positions.go   positionGuard: a record at an audited position is the one audited
//	watchdog.go    consumer lag and the stall watchdog
//	pipeline.go    the three-stage pipeline and its batch buffer free list
//	route.go       routing: one record under a plan → ledger entry, deliveries or quarantine
//	recordkeys.go  RecordKeys: delivery keys, the keyed ledger key hash, signing a batch
//	sink.go        produce with retries, ledger append (fail closed), audit then commit
//	metrics.go     metric names and per-batch observation
//	activity.go    BatchActivity, the per-batch counts and timeliness facts an ActivityObserver gets
//	topics.go      topic names of a plan, topic creation (through kafkaclient's admin client)
//	traceparent.go W3C traceparent of deliveries
//	failpoint.go   crash points for the fault tests
//	kafkalog.go    kafka-go logs through slog
//
// # Wiring
//
//	m := exchange.NewMetrics(registry)
//	kafka := exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: brokers}}
//	w, err := exchange.NewWorker(exchange.WorkerConfig{Kafka: kafka},
//		plans, ledgerStore,
//		exchange.WithLogger(log), exchange.WithMetrics(m), exchange.WithTracerProvider(tp),
//		exchange.WithRecordKeys(keys)) // app.Keys derives them from the master key
//	if err != nil { ... }
//	err = w.Run(ctx) // returns after a graceful drain when ctx is cancelled
//
// Metric names are listed on Metrics; headers and topic names are constants
// of this package (HeaderAgreement, IngressTopic, ...).
package exchange
