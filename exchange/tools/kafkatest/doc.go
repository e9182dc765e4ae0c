// Package kafkatest is what the access-control tests share: the Apache
// Kafka with SASL/SCRAM and ACLs that `deploy/local/kafka.sh --sasl start`
// runs (found through EXCHANGE_TEST_KAFKA_SASL_BROKERS and
// EXCHANGE_TEST_KAFKA_SASL_CREDENTIALS, as make test sets them), probes
// that report the broker's own answer to a produce or a fetch (kafka-go's
// Writer and group Reader hide a refusal behind retries or "Unknown Topic
// Or Partition"), and a lock that keeps two test processes from managing
// the same broker's ACLs at once.
//
// Why the lock: an exchange with kafka.manage_acls deletes every ACL of a
// known agency on the exchange's topics that its plan does not grant, so
// two such tests on one broker (go test runs packages in parallel) would
// take each other's grants away.
//
// Only tests import it (exchange/tools is never part of the runtime).
package kafkatest
