package acl

import (
	"slices"
	"strings"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
)

// Scope recognises the ACLs the exchange manages (see the package doc).
type Scope struct {
	exchange string
	group    string
	agencies map[string]string // principal -> agency id
}

// NewScope is the managed scope of a policy: the exchange and the agencies
// the set knows.
func NewScope(set *agreements.Set, opt Options) Scope {
	opt = opt.withDefaults()
	s := Scope{exchange: opt.ExchangePrincipal, group: opt.ExchangeGroup, agencies: map[string]string{}}
	for _, id := range Agencies(set) {
		s.agencies[AgencyPrincipal(id)] = id
	}
	return s
}

// Manages reports whether r is the exchange's to create and delete.
func (s Scope) Manages(r Rule) bool {
	if r.Permission != Allow || r.Host != AnyHost {
		return false
	}
	agency, isAgency := s.agencies[r.Principal]
	if !isAgency && r.Principal != s.exchange {
		return false
	}
	switch r.ResourceType {
	case Topic:
		return onExchangeTopics(r)
	case Group:
		if isAgency {
			return strings.HasPrefix(r.ResourceName, names.GroupPrefixOf(agency))
		}
		return r.ResourceName == s.group && r.PatternType == Literal
	case Cluster:
		return r.Principal == s.exchange && r.Operation == Alter
	}
	return false
}

// onExchangeTopics reports whether r is about topics under the exchange's
// prefixes.
func onExchangeTopics(r Rule) bool {
	if r.ResourceType != Topic {
		return false
	}
	return slices.ContainsFunc(exchangePrefixes, func(p string) bool { return strings.HasPrefix(r.ResourceName, p) })
}

// Changes is what a reconcile does: Create and Delete (both sorted), and
// Foreign, the ACLs on the exchange's topics it does not manage and leaves
// alone (an operator should look at them).
type Changes struct {
	Create  []Rule
	Delete  []Rule
	Foreign []Rule
}

// Empty reports whether nothing is to be created or deleted.
func (c Changes) Empty() bool { return len(c.Create) == 0 && len(c.Delete) == 0 }

// Diff compares the wanted rules with those found on the brokers: create
// what is wanted and missing, delete what s manages and is not wanted.
func Diff(want, have []Rule, s Scope) Changes {
	wanted := make(map[Rule]bool, len(want))
	for _, r := range want {
		wanted[r] = true
	}
	present := make(map[Rule]bool, len(have))
	var ch Changes
	for _, r := range have {
		present[r] = true
		switch {
		case wanted[r]:
		case s.Manages(r):
			ch.Delete = append(ch.Delete, r)
		case onExchangeTopics(r) && r.Permission == Allow:
			ch.Foreign = append(ch.Foreign, r)
		}
	}
	for _, r := range want {
		if !present[r] {
			ch.Create = append(ch.Create, r)
		}
	}
	for _, l := range [][]Rule{ch.Create, ch.Delete, ch.Foreign} {
		Sort(l)
	}
	ch.Create, ch.Delete, ch.Foreign = slices.Compact(ch.Create), slices.Compact(ch.Delete), slices.Compact(ch.Foreign)
	return ch
}
