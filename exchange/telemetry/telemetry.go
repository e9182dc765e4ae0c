// Package telemetry exports the exchange's OpenTelemetry traces over OTLP.
//
// The exchange makes one span per batch (and continues the publisher's
// trace through the traceparent header); without an endpoint those spans go
// nowhere. With one, they are batched and sent over OTLP/HTTP (protobuf) to
// a collector the operator runs inside the network: nothing leaves for the
// internet, and no endpoint is assumed. Spans carry codes, positions and
// counts, never field values (see exchange.Worker).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Config says where traces go.
type Config struct {
	// Endpoint is the collector's OTLP/HTTP base URL, e.g.
	// http://otel-collector:4318 (spans are posted to /v1/traces), or a
	// full URL whose path ends in /v1/traces. Required.
	Endpoint string
	// SampleRatio is the share of root spans (the batch spans) recorded,
	// 0..1; a span with a parent follows its parent's decision.
	SampleRatio float64
	// ServiceName and ServiceVersion name the process in the traces.
	ServiceName    string
	ServiceVersion string
	// Timeout bounds one export. Default 10s.
	Timeout time.Duration
}

// CheckEndpoint reports why endpoint is not an OTLP/HTTP URL.
func CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("OTLP endpoint: not a URL: %w", err)
	}
	shown := u.Redacted() // never print a password
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("OTLP endpoint %q: want an http:// or https:// URL (OTLP/HTTP, e.g. http://otel-collector:4318)", shown)
	case u.Host == "":
		return fmt.Errorf("OTLP endpoint %q: no host", shown)
	case u.User != nil:
		return fmt.Errorf("OTLP endpoint %q: credentials do not belong in the URL", shown)
	}
	return nil
}

// Provider is a tracer provider exporting over OTLP.
type Provider struct {
	*sdktrace.TracerProvider
}

var _ trace.TracerProvider = (*Provider)(nil)

// New returns a provider exporting to cfg.Endpoint. Nothing is sent until a
// span ends; the collector need not be up yet (exports are retried, then
// dropped, never blocking the record path). Call Shutdown to flush.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := CheckEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
		return nil, fmt.Errorf("trace sample ratio %v: want a number from 0 to 1", cfg.SampleRatio)
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "exchange"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	u, _ := url.Parse(cfg.Endpoint)
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(u.String()),
		otlptracehttp.WithTimeout(cfg.Timeout),
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// resource.NewSchemaless: the process's own attributes only — no
	// detectors that read the environment or reach the network.
	res := resource.NewSchemaless(
		semconv.ServiceName(cfg.ServiceName),
		semconv.ServiceVersion(cfg.ServiceVersion),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Provider{TracerProvider: tp}, nil
}

// Shutdown flushes the spans not yet exported and stops the exporter,
// within ctx.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.TracerProvider.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flushing traces: %w", err)
	}
	return nil
}
