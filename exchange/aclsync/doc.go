// Package aclsync applies the ACLs that agreements/acl compiles to a Kafka
// cluster through the admin API (DescribeACLs, CreateACLs, DeleteACLs of
// the kafkaclient builder's admin client): it creates what is granted and
// missing, deletes what the exchange manages and no longer grants, and
// never touches the rest (acl.Scope says what is managed: ALLOWs from any
// host of the exchange's and the known agencies' principals on the
// exchange's topics, the agencies' group prefixes, the exchange's group and
// its cluster ALTER).
//
// The principal it connects as needs ALTER on the cluster (and DESCRIBE,
// which ALTER implies): a super user on first use, afterwards the
// exchange's own principal once the plan grants it ALTER
// (acl.Options.ManageACLs).
//
// Usage, on every plan change and at acl.NextChange:
//
//	ch, err := aclsync.Sync(ctx, clients, set, time.Now(), opt, false)
//
// `exchange acl apply` is this with the configuration's kafka block;
// dry-run computes the same Changes without applying them.
package aclsync
