// Package demo is the demo traffic of `exchange dev --demo`: realistic
// records, a few percent of them stale, malformed or under an unknown schema
// id, published to every dataset's ingress topic of a running exchange so
// that every path (deliver, quarantine, ledger) shows on a laptop.
//
//	go demo.Run(ctx, a, 20) // a is the assembled *app.App
//
// Only cmd/exchange uses it; no runtime package imports it.
package demo
