// Package acl compiles the Kafka ACLs of the exchange from agencies,
// contracts and agreements: who may write which ingress topic, read which
// delivery topic, use which consumer groups, and what the exchange itself
// may do. It is a pure function of the loaded policy and a point in time
// (no Kafka client, no I/O but the writers given to it); the runtime that
// applies the result through the admin API is exchange/aclsync, the CLI is
// `exchange acl plan|apply|export`.
//
// The rules (fixed in IDENTITY.md; every grant is ALLOW from any host):
//
//   - agency A, principal User:A:
//   - WRITE and DESCRIBE on topic ingress.<d> (literal) for each dataset d
//     whose contract owner is A;
//   - READ and DESCRIBE on topic deliver.A.<agreement> (literal) for each
//     agreement whose consumer is A while it may deliver (Delivers: status
//     active and inside [valid_from, valid_until)). Suspended, revoked,
//     expired, draft, proposed and approved agreements grant nothing, and
//     neither does an active one outside its validity window: suspending,
//     revoking or expiry removes the consumer's READ, so it cannot even
//     re-read what it was sent;
//   - READ on groups with prefix "A.";
//   - READ on topic notices.A (literal).
//   - the exchange (Options.ExchangePrincipal, default User:exchange):
//     READ on topics prefixed ingress. and on its own group (literal);
//     READ, WRITE, CREATE and DESCRIBE on its audit topic <group>.audit
//     (literal) and READ on its indexer's group <group>.indexer (literal):
//     nobody else reads or writes the audit;
//     WRITE on topics prefixed deliver., quarantine. and notices.; CREATE and
//     DESCRIBE on topics with each of those four prefixes; ALTER on the
//     cluster only with Options.ManageACLs (it needs it to create and
//     delete ACLs); WRITE on topic ingress.<d> (literal) for each
//     dataset d only with Options.HTTPIngest: HTTP ingest
//     (connectors/httpingest) produces there for the owner's
//     authenticated publishers, each record naming that publisher in its
//     exchange-ingest-principal header. Never a prefixed WRITE on ingress.:
//     a topic of a dataset without a contract stays closed to it.
//
// Nothing else is granted: with the brokers' authorizer denying by default
// (allow.everyone.if.no.acl.found=false), nobody but the exchange reads
// ingress.* or quarantine.*, and nobody but the exchange writes deliver.*.
//
// The set depends on time through the validity windows: NextChange says
// when it changes next, so a reconciler re-runs then as well as on every
// plan change.
//
// # Managed ACLs
//
// Scope says which ACLs found on the brokers the exchange manages, so that
// a reconcile deletes what it no longer grants and never touches anything
// else: an ALLOW from any host ("*") whose principal is the exchange or a
// known agency (listed in agencies.yaml, or owner or consumer in a contract
// or agreement) on
//   - a topic under ingress., deliver., quarantine. or notices. (any pattern),
//   - a group with the agency's prefix "A." (for the exchange: its group),
//   - the cluster, ALTER (the exchange only).
//
// DENY ACLs are never managed (an operator's block of a principal survives
// every reconcile), nor are ACLs of other principals, other hosts or other
// resources. An ACL of an unknown principal on the exchange's topics (for
// example of an agency removed from agencies.yaml) is not deleted but
// reported by Diff as Foreign, for an operator to remove.
//
// Rules are written in Kafka's own words (TOPIC, PREFIXED, READ, ALLOW…);
// Sort gives them one order, so plans diff cleanly.
package acl
