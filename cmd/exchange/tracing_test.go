package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server"
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

// TestInsecureIsLoud: --insecure is a warning in the log and a detail on
// every /readyz answer.
func TestInsecureIsLoud(t *testing.T) {
	var logged strings.Builder
	s := server.New(nil, nil)
	warnInsecure(slog.New(slog.NewTextHandler(&logged, nil)), s, kafkaclient.Config{Brokers: []string{"k1:9092"}})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if !strings.Contains(rec.Body.String(), `"kafka_security":"INSECURE: `) || rec.Code != http.StatusOK {
		t.Errorf("/readyz = %d %s, want ready with the kafka_security detail", rec.Code, rec.Body)
	}
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "INSECURE") || !strings.Contains(logged.String(), "sasl=none") {
		t.Errorf("log %q, want a warning naming the missing authentication", logged.String())
	}
}
