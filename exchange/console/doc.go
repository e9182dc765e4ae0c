// Package console is the governance console: the web application the
// exchange serves at /console/ for stewards, auditors (data protection
// officers, governance committees), operators and agency systems
// (IDENTITY.md's principals). Pages render on the server with
// html/template; the stylesheet is embedded; there is no script at all,
// so the Content-Security-Policy (CSP) allows none.
//
// Mount it under the server's authentication as a public prefix (the
// console authenticates by its own session cookie):
//
//	c, err := console.New(console.Config{Store: db, Audit: api, Scope: scope, ...})
//	srv.Handle(console.Prefix, c)
//	srv.PublicPrefix(console.Prefix)
//
// Security: sessions are signed cookies (HttpOnly, SameSite=Strict,
// Secure and __Host- unless Config.SecureCookies is off for plain-HTTP
// dev at 127.0.0.1); every POST needs its session's CSRF token (ServeHTTP
// refuses it with 403 before routing); every response carries CSP,
// nosniff, Referrer-Policy no-referrer and no-store. Untrusted text is
// escaped by html/template and isolated in <bdi> (or dir=auto), so markup
// and bidi controls in agency names, reasons or identifiers stay inert.
//
// Reads: the audit search, lineage and data subject report ask the audit
// API in-process (callAPI) with the signed-in principal in the request's
// context, so its validation, scope rules and access log are the API's
// own; the overview reads the SLA and skip aggregates and events and the
// agreements' lifecycle, the integrity page each chain's newest
// checkpoint (store LatestCheckpoint) and newest recorded verification
// (store LatestVerifications); the agreements pages read the
// stewardship service and an agreement's daily SLA aggregates; the
// catalog and access request pages ask the catalog API in-process. The
// quality page reads the per-reason, skip and SLA aggregates; the quarantine
// page those and the audit API's quarantined entries (a partial index);
// an entry's detail and, for the provider agency's stewards only, its
// value come from the quarantine topic (Config.Quarantine, the exchange's
// own Kafka clients), each value view recorded in the access log first.
// No page scans the ledger, except the auditor's explicit "verify now".
//
// Actions: steward actions on an agreement (approve, suspend, resume,
// revoke) go through a confirmation page, then stewardship.Service as the
// signed-in principal; filing and deciding access requests go through the
// catalog API's own handlers. The console shows buttons only to those who
// may act, and the service or API refuses anyone else (403) anyway.
//
// CONSOLE.md beside this file says how to add a page.
package console
