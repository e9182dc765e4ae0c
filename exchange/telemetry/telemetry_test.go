package telemetry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/exchange-gov/exchange/exchange/telemetry"
	"github.com/exchange-gov/exchange/exchange/telemetry/otlptest"
)

// startCollector starts a collector closed at the end of t, and a context
// bounding the test.
func startCollector(t *testing.T) (*otlptest.Collector, context.Context) {
	t.Helper()
	col, err := otlptest.StartCollector()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = col.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return col, ctx
}

// TestExportsToCollector: spans ended before Shutdown reach the collector
// over OTLP/HTTP with the service name and their attributes.
func TestExportsToCollector(t *testing.T) {
	col, ctx := startCollector(t)
	tp, err := telemetry.New(ctx, telemetry.Config{Endpoint: col.Endpoint(), SampleRatio: 1, ServiceVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tr := tp.Tracer("exchange-test")
	for i := 0; i < 3; i++ {
		_, span := tr.Start(ctx, "exchange.batch")
		span.SetAttributes(attribute.Int("exchange.messages_in", 10+i))
		span.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	spans := col.Spans()
	if len(spans) != 3 {
		t.Fatalf("collector received %d spans, want 3", len(spans))
	}
	for i, s := range spans {
		if s.Service != "exchange" || s.Span.GetName() != "exchange.batch" {
			t.Errorf("span %d: service %q name %q", i, s.Service, s.Span.GetName())
		}
		if got := s.Attr("exchange.messages_in"); got == "" {
			t.Errorf("span %d: attribute exchange.messages_in missing", i)
		}
	}
}

// TestZeroRatioSamplesNothing: with ratio 0 and no sampled parent, nothing
// is recorded or sent.
func TestZeroRatioSamplesNothing(t *testing.T) {
	col, ctx := startCollector(t)
	tp, err := telemetry.New(ctx, telemetry.Config{Endpoint: col.Endpoint() + "/v1/traces", SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("t").Start(ctx, "exchange.batch")
	if span.IsRecording() {
		t.Error("span recorded at ratio 0")
	}
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(col.Spans()); n != 0 {
		t.Errorf("collector received %d spans at ratio 0", n)
	}
}

func TestBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cfg  telemetry.Config
		want string
	}{
		{telemetry.Config{Endpoint: "otel-collector:4318", SampleRatio: 1}, "http:// or https://"},
		{telemetry.Config{Endpoint: "grpc://otel:4317", SampleRatio: 1}, "http:// or https://"},
		{telemetry.Config{Endpoint: "http://", SampleRatio: 1}, "no host"},
		{telemetry.Config{Endpoint: "https://user:secret@otel:4318", SampleRatio: 1}, "credentials"},
		{telemetry.Config{Endpoint: "http://otel:4318", SampleRatio: 1.5}, "from 0 to 1"},
		{telemetry.Config{Endpoint: "http://otel:4318", SampleRatio: -0.1}, "from 0 to 1"},
	} {
		_, err := telemetry.New(ctx, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
