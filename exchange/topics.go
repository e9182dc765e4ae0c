package exchange

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/policy"
)

// Topics lists every topic a plan needs, sorted and without duplicates:
// ingress.<dataset> and quarantine.<dataset>
// for each dataset with a contract, deliver.<consumer>.<agreement id> for
// each agreement, and notices.<agency> for each agency owning a dataset or
// consuming one.
func Topics(plan *policy.Plan) []string {
	if plan == nil {
		return nil
	}
	set := map[string]struct{}{}
	for _, d := range plan.Datasets() {
		set[names.Ingress(d)] = struct{}{}
		set[names.Quarantine(d)] = struct{}{}
		if c, ok := plan.Contract(d); ok && c.Owner != "" {
			set[names.Notices(c.Owner)] = struct{}{}
		}
		for _, a := range plan.Agreements(d) {
			set[a.Topic] = struct{}{}
			set[names.Notices(a.Consumer)] = struct{}{}
		}
	}
	return sortedKeys(set)
}

// ingressTopics lists the topics the worker consumes for plan, sorted.
func ingressTopics(plan *policy.Plan) []string {
	if plan == nil {
		return nil
	}
	set := map[string]struct{}{}
	for _, d := range plan.Datasets() {
		set[names.Ingress(d)] = struct{}{}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// EnsureTopics creates the topics that do not exist yet with the given
// partition count and replication factor (0 or -1: the broker default,
// default.replication.factor; production clusters want 3 with
// min.insync.replicas=2, as acks=all only protects with both). Existing
// topics are left as they are. It is idempotent: "topic already exists" is
// success.
//
// The request goes through c's admin client, so through c's Transport:
// kafka-go refreshes a transport's metadata cache after a CreateTopics
// through it, so c's Writers see the new topics at once, while a topic
// created any other way stays invisible to them for up to the metadata TTL
// (6 s).
func EnsureTopics(ctx context.Context, c *kafkaclient.Clients, topics []string, partitions, replicationFactor int) error {
	if len(topics) == 0 {
		return nil
	}
	if partitions <= 0 {
		return fmt.Errorf("ensuring topics: partitions must be positive, got %d", partitions)
	}
	rf := replicationFactor
	if rf <= 0 {
		rf = -1
	}
	cfgs := make([]kafka.TopicConfig, 0, len(topics))
	for _, t := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: rf})
	}
	return createTopics(ctx, c, cfgs)
}

// EnsureAuditTopic creates the audit topic (names.Audit) when it does not
// exist yet, like EnsureTopics, with unlimited retention: the SQL ledger is
// an index of it and must be rebuildable from it.
func EnsureAuditTopic(ctx context.Context, c *kafkaclient.Clients, topic string, partitions, replicationFactor int) error {
	if partitions <= 0 {
		return fmt.Errorf("ensuring the audit topic: partitions must be positive, got %d", partitions)
	}
	rf := replicationFactor
	if rf <= 0 {
		rf = -1
	}
	return createTopics(ctx, c, []kafka.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: rf,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "-1"}, {ConfigName: "retention.bytes", ConfigValue: "-1"}}}})
}

// createTopics creates cfgs; "topic already exists" is success.
func createTopics(ctx context.Context, c *kafkaclient.Clients, cfgs []kafka.TopicConfig) error {
	topics := make([]string, len(cfgs))
	for i := range cfgs {
		topics[i] = cfgs[i].Topic
	}
	res, err := c.Admin().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		return fmt.Errorf("creating topics %s: %w", strings.Join(topics, ","), err)
	}
	var errs []error
	for _, t := range topics {
		terr := res.Errors[t]
		if terr == nil || errors.Is(terr, kafka.TopicAlreadyExists) {
			continue
		}
		errs = append(errs, fmt.Errorf("creating topic %s: %w", t, terr))
	}
	return errors.Join(errs...)
}
