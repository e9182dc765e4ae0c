package acl

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
)

// Kafka's words for the parts of an ACL binding.
const (
	Topic   = "TOPIC"
	Group   = "GROUP"
	Cluster = "CLUSTER"

	Literal  = "LITERAL"
	Prefixed = "PREFIXED"

	Read     = "READ"
	Write    = "WRITE"
	Create   = "CREATE"
	Describe = "DESCRIBE"
	Alter    = "ALTER"

	Allow = "ALLOW"
	Deny  = "DENY"

	// AnyHost is the host of every rule the exchange grants.
	AnyHost = "*"
	// ClusterName is the name of the one cluster resource.
	ClusterName = "kafka-cluster"
	// DefaultExchangePrincipal is the exchange's principal by default.
	DefaultExchangePrincipal = "User:exchange"
)

// Rule is one ACL binding: principal, resource (type, pattern, name),
// operation, permission and host, in Kafka's words.
type Rule struct {
	Principal    string
	ResourceType string
	PatternType  string
	ResourceName string
	Operation    string
	Permission   string
	Host         string
}

// Options are the exchange's side of the rules.
type Options struct {
	// ExchangePrincipal is the exchange's own principal. Default
	// DefaultExchangePrincipal.
	ExchangePrincipal string
	// ExchangeGroup is the consumer group of the exchange's workers.
	// Default names.DefaultGroup.
	ExchangeGroup string
	// ManageACLs grants the exchange ALTER on the cluster, which creating
	// and deleting ACLs needs. Default false.
	ManageACLs bool
	// HTTPIngest grants the exchange WRITE on the ingress topic of each
	// dataset (literal, per contract): HTTP ingest (connectors/httpingest)
	// produces there for the authenticated publisher. Default false: the
	// exchange writes no ingress topic.
	HTTPIngest bool
}

func (o Options) withDefaults() Options {
	if o.ExchangePrincipal == "" {
		o.ExchangePrincipal = DefaultExchangePrincipal
	}
	if o.ExchangeGroup == "" {
		o.ExchangeGroup = names.DefaultGroup
	}
	return o
}

// AgencyPrincipal is the Kafka principal of an agency's systems.
func AgencyPrincipal(agency string) string { return "User:" + agency }

// exchangePrefixes are the topic prefixes the exchange owns.
var exchangePrefixes = []string{names.IngressPrefix, names.DeliverPrefix, names.QuarantinePrefix, names.NoticesPrefix}

// Delivers reports whether a may deliver at time at: it is active and at
// is inside its validity window [ValidFrom, ValidUntil) (a zero bound is
// open). Only then does its consumer read its delivery topic.
func Delivers(a *agreements.Agreement, at time.Time) bool {
	if a.Status != agreements.StatusActive {
		return false
	}
	if !a.ValidFrom.IsZero() && at.Before(a.ValidFrom) {
		return false
	}
	return a.ValidUntil.IsZero() || at.Before(a.ValidUntil)
}

// NextChange is the first validity bound of an active agreement after at:
// when Compile's result changes without any file changing. ok is false
// when no such bound remains.
func NextChange(set *agreements.Set, at time.Time) (next time.Time, ok bool) {
	for i := range set.Agreements {
		a := &set.Agreements[i]
		if a.Status != agreements.StatusActive {
			continue
		}
		for _, t := range []time.Time{a.ValidFrom, a.ValidUntil} {
			if t.After(at) && (!ok || t.Before(next)) {
				next, ok = t, true
			}
		}
	}
	return next, ok
}

// Compile returns the ACLs the policy grants at time at, sorted, without
// duplicates. It assumes a validated set but is total on any set.
func Compile(set *agreements.Set, at time.Time, opt Options) []Rule {
	opt = opt.withDefaults()
	rules := exchangeRules(opt)
	for _, id := range Agencies(set) {
		p := AgencyPrincipal(id)
		rules = append(rules,
			allow(p, Group, Prefixed, names.GroupPrefixOf(id), Read),
			allow(p, Topic, Literal, names.Notices(id), Read))
	}
	for i := range set.Contracts {
		c := &set.Contracts[i]
		if c.Owner == "" || c.Dataset == "" {
			continue
		}
		p, t := AgencyPrincipal(c.Owner), names.Ingress(c.Dataset)
		rules = append(rules, allow(p, Topic, Literal, t, Write), allow(p, Topic, Literal, t, Describe))
		if opt.HTTPIngest {
			rules = append(rules, allow(opt.ExchangePrincipal, Topic, Literal, t, Write))
		}
	}
	for i := range set.Agreements {
		a := &set.Agreements[i]
		if a.Consumer == "" || a.ID == "" || !Delivers(a, at) {
			continue
		}
		p, t := AgencyPrincipal(a.Consumer), names.Deliver(a.Consumer, a.ID)
		rules = append(rules, allow(p, Topic, Literal, t, Read), allow(p, Topic, Literal, t, Describe))
	}
	Sort(rules)
	return slices.Compact(rules)
}

// exchangeRules are the exchange's own grants.
func exchangeRules(opt Options) []Rule {
	p := opt.ExchangePrincipal
	rules := []Rule{
		allow(p, Topic, Prefixed, names.IngressPrefix, Read),
		// The console shows a quarantined record to its provider's
		// stewards: the exchange, its only reader, reads it back.
		allow(p, Topic, Prefixed, names.QuarantinePrefix, Read),
		allow(p, Group, Literal, opt.ExchangeGroup, Read),
		// The audit topic: written with the deliveries, read back by the
		// indexer (its own group); nobody else touches it.
		allow(p, Topic, Literal, names.Audit(opt.ExchangeGroup), Read),
		allow(p, Topic, Literal, names.Audit(opt.ExchangeGroup), Write),
		allow(p, Topic, Literal, names.Audit(opt.ExchangeGroup), Create),
		allow(p, Topic, Literal, names.Audit(opt.ExchangeGroup), Describe),
		allow(p, Group, Literal, names.IndexerGroup(opt.ExchangeGroup), Read),
	}
	for _, prefix := range exchangePrefixes {
		if prefix != names.IngressPrefix {
			rules = append(rules, allow(p, Topic, Prefixed, prefix, Write))
		}
		rules = append(rules, allow(p, Topic, Prefixed, prefix, Create), allow(p, Topic, Prefixed, prefix, Describe))
	}
	if opt.ManageACLs {
		rules = append(rules, allow(p, Cluster, Literal, ClusterName, Alter))
	}
	return rules
}

func allow(principal, resourceType, pattern, name, op string) Rule {
	return Rule{Principal: principal, ResourceType: resourceType, PatternType: pattern, ResourceName: name, Operation: op, Permission: Allow, Host: AnyHost}
}

// Agencies are the agency ids the set knows, sorted: those of
// agencies.yaml and every contract owner and agreement consumer.
func Agencies(set *agreements.Set) []string {
	var ids []string
	for _, a := range set.Agencies {
		ids = append(ids, a.ID)
	}
	for _, c := range set.Contracts {
		ids = append(ids, c.Owner)
	}
	for _, a := range set.Agreements {
		ids = append(ids, a.Consumer)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return strings.TrimSpace(id) == "" })
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Sort orders rules by principal, resource type, resource name, pattern,
// operation, permission and host.
func Sort(rules []Rule) {
	slices.SortFunc(rules, compare)
}

func compare(a, b Rule) int {
	return cmp.Or(
		cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.ResourceType, b.ResourceType),
		cmp.Compare(a.ResourceName, b.ResourceName),
		cmp.Compare(a.PatternType, b.PatternType),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Permission, b.Permission),
		cmp.Compare(a.Host, b.Host),
	)
}

// String is the rule on one line, in the order of kafka-acls' output.
func (r Rule) String() string {
	return "principal=" + r.Principal + " resourceType=" + r.ResourceType + " patternType=" + r.PatternType +
		" name=" + r.ResourceName + " operation=" + r.Operation + " permission=" + r.Permission + " host=" + r.Host
}
