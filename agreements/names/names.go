// Package names is the one place where the exchange builds and parses the
// names that agencies' systems rely on: Kafka topics, registry subjects and
// consumer groups (ARCHITECTURE.md, "Topics"). Every other package asks here;
// none concatenates a prefix itself.
//
//	names.Ingress("health.immunisations")              // ingress.health.immunisations
//	names.Deliver("statistics", "health-to-stats-002") // deliver.statistics.health-to-stats-002
//	names.ValueSubject(names.Ingress("health.immunisations"))
//	                                                   // ingress.health.immunisations-value
//
// The package imports only the standard library, so the pure libraries
// (policy, agreements) use it as well as the runtime.
package names

import "strings"

// Topic name prefixes fixed by the design.
const (
	IngressPrefix    = "ingress."
	DeliverPrefix    = "deliver."
	QuarantinePrefix = "quarantine."
	NoticesPrefix    = "notices."
)

// Audit is the audit topic of the exchange whose workers share group
// ("exchange.audit" for the default group): every record decision's ledger
// entry is written there by the exchange in the same produce as the
// record's deliveries, and the indexer builds the SQL ledger from it. Only
// the exchange reads or writes it; it is kept forever (the SQL ledger can
// be rebuilt from it). One per exchange (group), so two exchanges sharing
// a cluster never index each other's decisions.
func Audit(group string) string { return group + ".audit" }

// IndexerGroup is the consumer group of the audit indexer of the exchange
// whose workers share group: its committed offsets say how far the SQL
// ledger has indexed the audit topic.
func IndexerGroup(group string) string { return group + ".indexer" }

// DefaultGroup is the consumer group the exchange's workers share unless
// configured otherwise.
const DefaultGroup = "exchange"

// valueSuffix is the Confluent TopicNameStrategy suffix of a value subject.
const valueSuffix = "-value"

// Ingress is the topic a dataset's provider publishes to.
func Ingress(dataset string) string { return IngressPrefix + dataset }

// Quarantine is the topic that holds a dataset's refused records.
func Quarantine(dataset string) string { return QuarantinePrefix + dataset }

// Deliver is a consumer agency's topic for one agreement.
func Deliver(consumer, agreementID string) string {
	return DeliverPrefix + consumer + "." + agreementID
}

// Notices is the topic of an agency's notices.
func Notices(agency string) string { return NoticesPrefix + agency }

// ValueSubject is the registry subject of a topic's values
// (TopicNameStrategy, what Confluent serializers use by default).
func ValueSubject(topic string) string { return topic + valueSuffix }

// IngressSubject is the value subject of a dataset's ingress topic.
func IngressSubject(dataset string) string { return ValueSubject(Ingress(dataset)) }

// DeliverSubject is the value subject of an agreement's delivery topic,
// under which the agreement's derived schema is registered.
func DeliverSubject(consumer, agreementID string) string {
	return ValueSubject(Deliver(consumer, agreementID))
}

// DatasetOfIngress returns the dataset of an ingress topic; ok is false when
// topic is not one.
func DatasetOfIngress(topic string) (dataset string, ok bool) {
	d, ok := strings.CutPrefix(topic, IngressPrefix)
	if !ok || d == "" {
		return "", false
	}
	return d, true
}

// ConsumerOfDeliver returns the consumer agency of a delivery topic
// (deliver.<consumer>.<agreement id>); ok is false when topic has another
// form. Agency ids hold no dot, so the consumer is what lies between the
// prefix and the next dot.
func ConsumerOfDeliver(topic string) (consumer string, ok bool) {
	rest, ok := strings.CutPrefix(topic, DeliverPrefix)
	if !ok {
		return "", false
	}
	c, _, ok := strings.Cut(rest, ".")
	if !ok || c == "" {
		return "", false
	}
	return c, true
}

// DeliverPrefixOf is the prefix shared by every delivery topic of one
// consumer agency: deliver.<consumer>. (with the trailing dot).
func DeliverPrefixOf(consumer string) string { return DeliverPrefix + consumer + "." }

// GroupPrefixOf is the prefix of the consumer groups an agency's clients
// may use: "<agency>." (its Kafka principal has READ on groups with it).
func GroupPrefixOf(agency string) string { return agency + "." }

// WebhookGroup is the consumer group of the webhook connector that posts
// an agreement's deliveries for its consumer: <consumer>.webhook.<agreement
// id>, inside the consumer's group prefix (GroupPrefixOf) so its ACLs cover it.
func WebhookGroup(consumer, agreementID string) string {
	return GroupPrefixOf(consumer) + "webhook." + agreementID
}
