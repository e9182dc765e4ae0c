package main

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/exchange-gov/exchange/exchange/telemetry"
)

// startTracing returns the tracer provider for endpoint — nil (the app's
// no-op) when endpoint is "" — and a function that flushes it, to be
// deferred so that it runs after the drain.
func startTracing(ctx context.Context, endpoint string, ratio float64, log *slog.Logger) (trace.TracerProvider, func(), error) {
	if endpoint == "" {
		return nil, func() {}, nil
	}
	p, err := telemetry.New(ctx, telemetry.Config{Endpoint: endpoint, SampleRatio: ratio, ServiceVersion: buildVersion()})
	if err != nil {
		return nil, nil, err
	}
	log.Info("exporting traces", "otlp_endpoint", endpoint, "sample_ratio", ratio)
	flush := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}
	return p, flush, nil
}
