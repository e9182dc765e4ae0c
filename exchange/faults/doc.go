// Package faults holds the exchange's fault-injection tests (issue 6). It
// has no code of its own: everything is in its tests.
//
// Each scenario runs the real `exchange serve` binary (built once per
// package run) as one or more subprocesses against a broker — the embedded
// kfake broker by default, Apache Kafka when EXCHANGE_TEST_KAFKA_BROKERS is
// set (except the embedded broker's restart; the Apache Kafka crash runs a
// dedicated broker of its own) — and a store (a SQLite file, or a dedicated
// PostgreSQL for the database outages and the indexer kill mid-COPY).
// Every scenario uses its own copy of the example policy of deploy/examples
// (the health.immunisations contract and its two agreements) under unique
// dataset and agreement names, its own consumer group and its own store, so
// scenarios never see each other's records, even on a shared Kafka.
//
// Traffic is built so that the expected outcome of every record is known:
// valid fresh records of region north go to both agreements (statistics,
// and social services whose filter admits north and east); of region south
// to statistics only (social services' skip reason: filter); stale records
// are quarantined freshness:stale, age 200 quality:age_in_range, broken
// frames decode:malformed, unknown schema ids schema:unknown_id, oversized
// values size:too_large.
//
// One checker (world.verify) reads back the ingress topic, both delivery
// topics, the quarantine topic, the audit topic (<group>.audit: the
// ledger entries each batch produced together with its deliveries) and
// the ledger (the SQL store: the audit indexer's asynchronous, verifiable
// index of the audit topic), and passes only if every ingress record
// (every acknowledged one is there) was delivered to exactly the
// agreements it should reach — duplicates only with the delivery id
// derived from agreement and source position — or quarantined with its
// reason, and is audited. After every kill or stop, audited means: the
// record's entry is in the audit topic (its first entry per position;
// later ones are a re-processing's duplicates), since the index may lag;
// the checker verifies that everything below the group's committed
// offsets was delivered and audited: nothing is committed past what was
// done. At the end it waits (up to 120 s) for the index to hold every
// record, then requires exactly one index entry per record, every chain
// and signed checkpoint to verify (ledger.Verify), and the index to agree
// with the audit topic's first entry of each position (decision, reasons,
// deliveries, skips). While a scenario runs, the group's committed
// offsets are polled (kafka-go Client.OffsetFetch) and must never go
// backwards. Each scenario prints
//
//	sent N, delivered N, quarantined N, duplicates N, lost N, unaudited N
//
// (unaudited: committed records without an audit topic entry, at the end
// records without an index entry) and fails unless lost and unaudited are
// 0; a second line gives the audit topic's messages, entries and
// duplicates, the verified chains, and the duplicates the running
// processes' indexers counted (exchange_index_entries_total).
//
// Scenarios:
//
//   - TestKillAtFailpoints: the exchange kills itself with SIGKILL at each
//     of the four points of a batch's life — after_fetch, after_produce
//     (deliveries, quarantine copies and audit entries acknowledged),
//     after_ledger (right before the commit), after_commit — through the
//     test-only failpoints of exchange/failpoint
//     (EXCHANGE_FAILPOINT=<name>:<n>); each new process finds a backlog,
//     dies on its first batch, and is restarted; after each kill nothing
//     is committed past what was done and audited in the audit topic; then
//     the full check.
//   - TestKillAtRandomMoments: kill -9 of the exchange process at seeded
//     random moments (EXCHANGE_FAULTS_SEED repeats a run) shortly after each
//     new process's first delivery, while records stream in; four kills,
//     each logged; restart after each; then the full check.
//   - TestBrokerRestart: the embedded broker (data dir, synchronous writes)
//     is closed and started again on the same address mid-stream; the
//     publisher keeps going once it is back.
//   - TestApacheKafkaCrash (with EXCHANGE_TEST_KAFKA_BROKERS set, as make
//     test does): a dedicated Apache Kafka (deploy/local/kafka.sh with its
//     own state dir) is killed with SIGKILL mid-stream and started again on
//     the same port and log dir.
//   - TestDatabaseOutage: a dedicated PostgreSQL (deploy/local/postgres.sh
//     with its own state dir) is stopped mid-stream and restarted: while it
//     is down deliveries and commits go on (outputs and committed offsets
//     grow, still once the index lag is past 3 s; every committed record
//     is in the audit topic), the index's
//     writes fail (exchange_index_write_failures_total) and it lags
//     (exchange_index_lag_seconds > 0); once it is back the index catches
//     up and the full check passes.
//   - TestDatabaseOutagePastMaxIndexLag: the same with worker
//     max_index_lag 3s (an exchange.yaml the harness writes, worldOpts
//     config): past the bound the workers pause (exchange_ledger_paused 1,
//     /readyz fails audit_index), and outputs and committed offsets stay
//     where they are over an observation window while records wait; once
//     PostgreSQL is back everything resumes and the full check passes.
//   - TestIndexStalledPastMaxIndexLag: the same bound with the index alone
//     stalled — a transaction of the test holds the ledger tables locked
//     while the rest of PostgreSQL (the agreement states the lifecycle
//     gate reads among it) answers — so that the lag bound, not the gate,
//     is what pauses the workers.
//   - TestIndexerKilledMidCopy: on a dedicated PostgreSQL, a first
//     exchange indexes 5,000 records and stops; with a backlog of 20,000
//     more (so that index writes are large) the next one kills itself
//     (failpoint index_mid_copy) halfway through the rows of its first
//     index COPY: the index then holds exactly the 5,000, a verified
//     prefix of each chain of the audit topic (nothing of the killed
//     write); restarted, the exchange completes the index, the full check
//     passes, and the real `exchange audit verify` says ok.
//   - TestIndexerKilledAfterIndex: the exchange kills itself (failpoint
//     after_index) right after its first index write committed, before the
//     indexer's group committed those audit messages: the index holds a
//     verified prefix and the group no offset; the restarted indexer
//     counts every entry of that write again as a duplicate, chains none of
//     them twice (the index grows by exactly what it stored), and the full
//     check and `exchange audit verify` pass.
//   - TestRebalanceStorm: instances join and leave (1 → 3 → 1) during a
//     stream; one is stopped (SIGSTOP) past its session timeout between the
//     audit produce and the commit of a batch (failpoint after_ledger with
//     the pause action) and resumed. It found a runtime defect (the resumed
//     member's commit of a batch finished under its old generation was sent
//     by kafka-go's group Reader under the new one, and the group's
//     committed offset went back; kafka-go #1308), fixed by consuming
//     through kafka.ConsumerGroup and committing with each record's own
//     generation; it fails on any committed-offset regression
//     (failOnKnownRegression).
//   - TestRevocationMidStream: an agreement's file is edited to revoked (with
//     its history line) mid-stream; records published after the reload are
//     skipped with reason revoked and never delivered to it; records in
//     between go either way, as their ledger entry's plan says.
//   - TestRevokedConsumerDeniedMidStream: the same revocation on a broker
//     enforcing SASL/SCRAM and ACLs — kfake (kafkatest.Kfake), and the SASL
//     Apache Kafka when EXCHANGE_TEST_KAFKA_SASL_BROKERS is set (as make
//     test does; the scenario locks its ACLs and removes its ACLs, topics
//     and group afterwards) — with the exchange as the super user managing
//     the ACLs (kafka.manage_acls), the owner publishing and the consumer
//     reading (Fetch) with their own credentials: the consumer's read is
//     denied within 5 s of the edit, and nothing is lost or unaudited.
//   - TestSigtermInFlight: SIGTERM while records stream in: the process exits
//     within a generous liveness bound, and nothing is committed past what
//     was delivered and audited; the batch spans it exports over OTLP
//     (otlptest collector) cover every committed record, so the drain
//     flushed them; a restart finishes the rest.
//   - TestQuarantineTopicDeleted: the quarantine topic is deleted while the
//     exchange runs and records needing quarantine arrive: the committed
//     offsets stop before them and nothing is dropped; once the topic is
//     created again everything completes.
//   - TestPoisonRecords: half of the traffic is poison — bad magic byte,
//     truncated Avro, unknown schema ids, values over the 512 KiB limit,
//     invalid UTF-8 in a string, a string length prefix of 2^62 bytes,
//     null values, 100 headers, stale and out-of-range records — each
//     quarantined with its reason, the good half delivered.
//
// Everything binds 127.0.0.1, stops what it starts, and is bounded in time;
// the package skips itself under -short.
package faults
