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
