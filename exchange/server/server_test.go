package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHealthReadyMetricsAndMount(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "exchange_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	s := New(nil, reg)
	s.Mount("/registry", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "registry saw "+r.URL.Path)
	}))

	if code, body := get(t, s, "/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, s, "/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("/readyz with no checks = %d %q", code, body)
	}
	s.SetDetail("kafka_security", "INSECURE: no Kafka authentication")
	if code, body := get(t, s, "/readyz"); code != 200 || !strings.Contains(body, `"details":{"kafka_security":"INSECURE: no Kafka authentication"}`) {
		t.Fatalf("/readyz with a detail = %d %q, want ready with the detail", code, body)
	}
	s.SetDetail("kafka_security", "")
	if _, body := get(t, s, "/readyz"); strings.Contains(body, "details") {
		t.Fatalf("/readyz after the detail was removed: %q", body)
	}
	if code, body := get(t, s, "/metrics"); code != 200 || !strings.Contains(body, "exchange_test_total 1") {
		t.Fatalf("/metrics = %d, missing counter", code)
	}
	if _, body := get(t, s, "/registry/subjects"); body != "registry saw /subjects" {
		t.Fatalf("mounted handler got %q", body)
	}

	s.AddCheck("store", func(ctx context.Context) error { return errors.New("store unreachable") })
	code, body := get(t, s, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store unreachable") {
		t.Fatalf("/readyz with failing check = %d %q", code, body)
	}
}

func TestListenInUseAndServeShutdown(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ln.Addr().String()); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("second Listen: %v, want ErrAddrInUse", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(nil, nil).Serve(ctx, ln, 5*time.Second) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("listener still accepting after shutdown")
	}
}

// The index at / (and /api, /api/v1) lists every surface: JSON for
// clients, HTML with links for a browser.
func TestIndexListsSurfaces(t *testing.T) {
	s := New(nil, prometheus.NewRegistry())
	s.Describe("/api/v1/audit", "audit ledger entries")
	for _, path := range []string{"/", "/api", "/api/", "/api/v1", "/api/v1/"} {
		code, body := get(t, s, path)
		if code != 200 {
			t.Fatalf("GET %s = %d %q", path, code, body)
		}
		for _, want := range []string{`"path": "/healthz"`, `"path": "/readyz"`, `"path": "/metrics"`, `"path": "/api/v1/audit"`, `"description": "audit ledger entries"`} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %s:\n%s", path, want, body)
			}
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), `<a href="/api/v1/audit">`) {
		t.Errorf("browser GET / = %s:\n%s", ct, rec.Body.String())
	}
	if code, _ := get(t, s, "/nothing-here"); code != 404 {
		t.Errorf("GET /nothing-here = %d, want 404", code)
	}
}
