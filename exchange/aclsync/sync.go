package aclsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// Sync compiles the ACLs of set at time at, compares them with the
// cluster's and, unless dryRun, creates the missing and deletes the
// managed ones no longer granted. It returns the changes (made, or to be
// made with dryRun); an error leaves part of them made, and the next Sync
// finishes them.
func Sync(ctx context.Context, c *kafkaclient.Clients, set *agreements.Set, at time.Time, opt acl.Options, dryRun bool) (acl.Changes, error) {
	have, err := Describe(ctx, c)
	if err != nil {
		return acl.Changes{}, err
	}
	ch := acl.Diff(acl.Compile(set, at, opt), have, acl.NewScope(set, opt))
	if dryRun {
		return ch, nil
	}
	return ch, Apply(ctx, c, ch)
}

// Describe lists every ACL of the cluster, sorted.
func Describe(ctx context.Context, c *kafkaclient.Clients) ([]acl.Rule, error) {
	res, err := c.Admin().DescribeACLs(ctx, &kafka.DescribeACLsRequest{Filter: kafka.ACLFilter{
		ResourceTypeFilter:        kafka.ResourceTypeAny,
		ResourcePatternTypeFilter: kafka.PatternTypeAny,
		Operation:                 kafka.ACLOperationTypeAny,
		PermissionType:            kafka.ACLPermissionTypeAny,
	}})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		return nil, fmt.Errorf("describing ACLs: %w", kafkaclient.Explain(err))
	}
	var rules []acl.Rule
	for _, r := range res.Resources {
		for _, d := range r.ACLs {
			rules = append(rules, fromKafka(kafka.ACLEntry{
				ResourceType: r.ResourceType, ResourceName: r.ResourceName, ResourcePatternType: r.PatternType,
				Principal: d.Principal, Host: d.Host, Operation: d.Operation, PermissionType: d.PermissionType,
			}))
		}
	}
	acl.Sort(rules)
	return rules, nil
}

// Apply creates ch.Create and deletes ch.Delete (each by an exact filter,
// so nothing else matches). Foreign rules are left alone. Every failure is
// reported, naming its rule.
func Apply(ctx context.Context, c *kafkaclient.Clients, ch acl.Changes) error {
	var errs []error
	if len(ch.Create) > 0 {
		entries := make([]kafka.ACLEntry, len(ch.Create))
		for i, r := range ch.Create {
			e, err := toKafka(r)
			if err != nil {
				return err
			}
			entries[i] = e
		}
		res, err := c.Admin().CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: entries})
		if err != nil {
			return fmt.Errorf("creating ACLs: %w", kafkaclient.Explain(err))
		}
		for i, e := range res.Errors {
			if e != nil && i < len(ch.Create) {
				errs = append(errs, fmt.Errorf("creating ACL %s: %w", ch.Create[i], kafkaclient.Explain(e)))
			}
		}
	}
	if len(ch.Delete) > 0 {
		errs = append(errs, deleteRules(ctx, c, ch.Delete))
	}
	return errors.Join(errs...)
}

func deleteRules(ctx context.Context, c *kafkaclient.Clients, rules []acl.Rule) error {
	filters := make([]kafka.DeleteACLsFilter, len(rules))
	for i, r := range rules {
		e, err := toKafka(r)
		if err != nil {
			return err
		}
		filters[i] = kafka.DeleteACLsFilter{
			ResourceTypeFilter: e.ResourceType, ResourceNameFilter: e.ResourceName, ResourcePatternTypeFilter: e.ResourcePatternType,
			PrincipalFilter: e.Principal, HostFilter: e.Host, Operation: e.Operation, PermissionType: e.PermissionType,
		}
	}
	res, err := c.Admin().DeleteACLs(ctx, &kafka.DeleteACLsRequest{Filters: filters})
	if err != nil {
		return fmt.Errorf("deleting ACLs: %w", kafkaclient.Explain(err))
	}
	var errs []error
	for i, r := range res.Results {
		if i >= len(rules) {
			break
		}
		if r.Error != nil {
			errs = append(errs, fmt.Errorf("deleting ACL %s: %w", rules[i], kafkaclient.Explain(r.Error)))
		}
		for _, m := range r.MatchingACLs {
			if m.Error != nil {
				errs = append(errs, fmt.Errorf("deleting ACL %s: %w", rules[i], kafkaclient.Explain(m.Error)))
			}
		}
	}
	return errors.Join(errs...)
}

// Kafka's words for kafka-go's enums, both ways.
var (
	resourceTypes = map[kafka.ResourceType]string{
		kafka.ResourceTypeTopic: acl.Topic, kafka.ResourceTypeGroup: acl.Group, kafka.ResourceTypeCluster: acl.Cluster,
		kafka.ResourceTypeTransactionalID: "TRANSACTIONAL_ID", kafka.ResourceTypeDelegationToken: "DELEGATION_TOKEN",
	}
	patternTypes = map[kafka.PatternType]string{kafka.PatternTypeLiteral: acl.Literal, kafka.PatternTypePrefixed: acl.Prefixed}
	operations   = map[kafka.ACLOperationType]string{
		kafka.ACLOperationTypeAll: "ALL", kafka.ACLOperationTypeRead: acl.Read, kafka.ACLOperationTypeWrite: acl.Write,
		kafka.ACLOperationTypeCreate: acl.Create, kafka.ACLOperationTypeDelete: "DELETE", kafka.ACLOperationTypeAlter: acl.Alter,
		kafka.ACLOperationTypeDescribe: acl.Describe, kafka.ACLOperationTypeClusterAction: "CLUSTER_ACTION",
		kafka.ACLOperationTypeDescribeConfigs: "DESCRIBE_CONFIGS", kafka.ACLOperationTypeAlterConfigs: "ALTER_CONFIGS",
		kafka.ACLOperationTypeIdempotentWrite: "IDEMPOTENT_WRITE",
	}
	permissions = map[kafka.ACLPermissionType]string{kafka.ACLPermissionTypeAllow: acl.Allow, kafka.ACLPermissionTypeDeny: acl.Deny}
)

func fromKafka(e kafka.ACLEntry) acl.Rule {
	return acl.Rule{
		Principal: e.Principal, ResourceType: word(resourceTypes, e.ResourceType), PatternType: word(patternTypes, e.ResourcePatternType),
		ResourceName: e.ResourceName, Operation: word(operations, e.Operation), Permission: word(permissions, e.PermissionType), Host: e.Host,
	}
}

func toKafka(r acl.Rule) (kafka.ACLEntry, error) {
	e := kafka.ACLEntry{ResourceName: r.ResourceName, Principal: r.Principal, Host: r.Host}
	var ok [4]bool
	e.ResourceType, ok[0] = code(resourceTypes, r.ResourceType)
	e.ResourcePatternType, ok[1] = code(patternTypes, r.PatternType)
	e.Operation, ok[2] = code(operations, r.Operation)
	e.PermissionType, ok[3] = code(permissions, r.Permission)
	if ok != [4]bool{true, true, true, true} {
		return e, fmt.Errorf("ACL %s: a word Kafka does not know", r)
	}
	return e, nil
}

// word names v; an unknown value is UNKNOWN(<n>), which no rule grants.
func word[K ~int8](m map[K]string, v K) string {
	if w, ok := m[v]; ok {
		return w
	}
	return fmt.Sprintf("UNKNOWN(%d)", v)
}

func code[K ~int8](m map[K]string, w string) (K, bool) {
	for k, v := range m {
		if strings.EqualFold(v, w) {
			return k, true
		}
	}
	return 0, false
}
