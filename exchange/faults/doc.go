// Package faults holds the exchange's fault-injection tests (issue 6). It
// has no code of its own: everything is in its tests.
//
// Each scenario runs the real `exchange serve` binary (built once per
// package run) as one or more subprocesses against a broker — the embedded
// kfake broker by default, Apache Kafka when EXCHANGE_TEST_KAFKA_BROKERS is
// set (except the embedded broker's restart; the Apache Kafka crash runs a
// dedicated broker of its own) — and a store (a SQLite file, or a dedicated
// PostgreSQL for the database outage).
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
// topics, the quarantine topic and the ledger (from the store) and passes
// only if every ingress record (every acknowledged one is there) was
// delivered to exactly the agreements it should reach — duplicates only
// with the delivery id derived from agreement and source position — or
// quarantined with its reason, and has exactly one ledger entry that agrees
// with the topics. While a scenario runs, the group's committed offsets are
// polled (kafka-go Client.OffsetFetch) and must never go backwards. Each
// scenario prints
//
//	sent N, delivered N, quarantined N, duplicates N, lost N, unaudited N
//
// and fails unless lost and unaudited are 0. After every kill or stop the
// checker also verifies that everything below the committed offsets was
// delivered and audited: nothing is committed past what was done.
//
// Scenarios:
//
//   - TestKillAtFailpoints: the exchange kills itself with SIGKILL at each
//     of the four points of a batch's life — after_fetch, after_produce,
//     after_ledger, after_commit — through the test-only failpoints of
//     exchange/failpoint.go (EXCHANGE_FAILPOINT=<name>:<n>); each new process
//     finds a backlog, dies on its first batch, and is restarted; after each
//     kill nothing is committed past what was done; then the full check.
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
//     with its own state dir) is stopped mid-stream until the exchange has
//     failed several ledger appends and then restarted: while it is down
//     nothing further is delivered and no offset is committed (fail closed);
//     afterwards exactly one ledger entry per record.
//   - TestRebalanceStorm: instances join and leave (1 → 3 → 1) during a
//     stream; one is stopped (SIGSTOP) past its session timeout between the
//     ledger append and the commit of a batch (failpoint after_ledger with
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
