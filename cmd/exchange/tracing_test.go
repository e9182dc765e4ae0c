package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadOTLPEndpointRefusedFirst: a bad collector URL is refused before
// anything starts (no data dir, no listener), naming the flag or key.
func TestBadOTLPEndpointRefusedFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	err := runDev(context.Background(), []string{"--otlp-endpoint", "otel:4317", "--data-dir", dir, "--http-addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "--otlp-endpoint") || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("exchange dev with a bad endpoint: %v", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("data dir created before the endpoint was checked: %v", serr)
	}
	t.Setenv("EXCHANGE_TRACING_OTLP_ENDPOINT", "grpc://otel:4317")
	t.Setenv("EXCHANGE_KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("EXCHANGE_DATABASE_URL", "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("EXCHANGE_CONTRACTS_DIR", t.TempDir())
	t.Setenv("EXCHANGE_KEY_FILE", filepath.Join(t.TempDir(), "k"))
	err = runServe(context.Background(), []string{"--insecure"})
	if err == nil || !strings.Contains(err.Error(), "tracing.otlp_endpoint") {
		t.Fatalf("exchange serve with a bad endpoint: %v", err)
	}
}

// TestServeRefusesUnauthenticatedKafka: without SASL or a client
// certificate, serve refuses to start (before opening anything) unless
// --insecure is given.
func TestServeRefusesUnauthenticatedKafka(t *testing.T) {
	t.Setenv("EXCHANGE_KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("EXCHANGE_DATABASE_URL", "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("EXCHANGE_CONTRACTS_DIR", t.TempDir())
	t.Setenv("EXCHANGE_KEY_FILE", filepath.Join(t.TempDir(), "k"))
	err := runServe(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "no authentication configured") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("serve without Kafka authentication: %v", err)
	}
}
