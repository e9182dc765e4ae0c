package exchange

import (
	"context"
	"errors"
	"fmt"

	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/policy"
)

// Topics lists every topic a plan needs, sorted and without duplicates:
// ingress.<dataset> and quarantine.<dataset> for each dataset with a
// contract, deliver.<consumer>.<agreement id> for each agreement.
func Topics(plan *policy.Plan) []string {
	if plan == nil {
		return nil
	}
	set := map[string]struct{}{}
	for _, d := range plan.Datasets() {
		set[names.Ingress(d)] = struct{}{}
		set[names.Quarantine(d)] = struct{}{}
		for _, a := range plan.Agreements(d) {
			set[a.Topic] = struct{}{}
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

// TopicOptions tune topic creation.
type TopicOptions struct {
	// ReplicationFactor of created topics; 0 or -1 means the broker default
	// (default.replication.factor). Production clusters want 3 with
	// min.insync.replicas=2 (acks=all only protects with both).
	ReplicationFactor int
	// Transport carries the request. Use the Writer's transport: kafka-go
	// refreshes a transport's metadata cache after a CreateTopics through it,
	// while a topic created any other way stays invisible to that Writer for
	// up to its metadata TTL (6 s). Default: kafka.DefaultTransport, which is
	// also the default of kafka.Writer.
	Transport kafka.RoundTripper
}

// EnsureTopics creates the topics that do not exist yet with the given
// partition count (existing topics are left as they are). It is idempotent:
// "topic already exists" is success.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions int) error {
	return ensureTopics(ctx, brokers, topics, partitions, TopicOptions{})
}

// EnsureTopicsWith is EnsureTopics with options.
func EnsureTopicsWith(ctx context.Context, brokers []string, topics []string, partitions int, opt TopicOptions) error {
	return ensureTopics(ctx, brokers, topics, partitions, opt)
}

func ensureTopics(ctx context.Context, brokers []string, topics []string, partitions int, opt TopicOptions) error {
	if len(topics) == 0 {
		return nil
	}
	if len(brokers) == 0 {
		return errors.New("ensuring topics: no brokers")
	}
	if partitions <= 0 {
		return fmt.Errorf("ensuring topics: partitions must be positive, got %d", partitions)
	}
	rf := opt.ReplicationFactor
	if rf <= 0 {
		rf = -1
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: opt.Transport, Timeout: 30 * time.Second}
	cfgs := make([]kafka.TopicConfig, 0, len(topics))
	for _, t := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: rf})
	}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
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
