// Package otlptest is a minimal OTLP/HTTP trace receiver on 127.0.0.1, for
// tests that check what the exchange exports.
package otlptest

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Collector receives OTLP/HTTP trace exports (protobuf, optionally gzip)
// and keeps every span.
type Collector struct {
	srv *http.Server
	ln  net.Listener

	mu    sync.Mutex
	spans []ReceivedSpan
}

// ReceivedSpan is one exported span with its resource's service name.
type ReceivedSpan struct {
	Service string
	Span    *tracepb.Span
}

// Attr returns the span's string or int attribute key as text, "" if absent.
func (s ReceivedSpan) Attr(key string) string {
	for _, kv := range s.Span.GetAttributes() {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		}
	}
	return ""
}

// StartCollector listens on a free port of 127.0.0.1.
func StartCollector() (*Collector, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	c := &Collector{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", c.receive)
	c.srv = &http.Server{Handler: mux}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

// Endpoint is the collector's base URL.
func (c *Collector) Endpoint() string { return "http://" + c.ln.Addr().String() }

// Close stops the collector.
func (c *Collector) Close() error { return c.srv.Close() }

// Spans returns the spans received so far.
func (c *Collector) Spans() []ReceivedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ReceivedSpan(nil), c.spans...)
}

func (c *Collector) receive(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = http.MaxBytesReader(w, r.Body, 32<<20)
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = gz
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, "not an OTLP trace export: "+err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, ReceivedSpan{Service: service, Span: s})
			}
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}
