// Package tools holds the programs that only the exchange binary runs, beside
// the runtime rather than inside it:
//
//   - devbroker: the embedded Kafka broker of `exchange dev`;
//   - demo: the demo traffic of `exchange dev --demo`;
//   - gen: the realistic records that demo and bench publish;
//   - bench: `exchange bench`, the end-to-end cost of the policy broker
//     against raw Kafka;
//   - kafkatest: what the access-control tests share (the SASL Apache
//     Kafka of make test, probes reporting a broker's refusal, a lock on a
//     broker's ACLs).
//
// No runtime package imports them (TestRuntimeImportsNoTools keeps it so):
// cmd/exchange and tests may, and everything under exchange/tools may import
// the runtime. This package itself has no code.
package tools
