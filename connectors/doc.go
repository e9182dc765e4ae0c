// Package connectors bridges systems that do not speak Kafka (HTTP ingest,
// webhook delivery, file import, database outbox) to the exchange.
package connectors
