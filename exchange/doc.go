// Package exchange is the runtime: the consumer-group loop that routes every
// ingress record through the policy plan to delivery and quarantine topics,
// the ledger writes that precede each offset commit, plan reloads, the HTTP
// server, metrics, tracing and dev mode.
package exchange
