package app

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// TestWebhookRunsInsideTheExchange: with connectors.webhooks configured, the
// assembled exchange runs the webhook connector beside its workers; the
// sample records' deliveries under the statistics agreement reach the
// agency's HTTPS endpoint, decoded with the agreement's derived schema
// (fetched from the exchange's own registry as the statistics agency),
// signed, one POST per delivery on the topic.
func TestWebhookRunsInsideTheExchange(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const agreement, consumer = "health-to-statistics-2026-002", "statistics"
	secret := []byte("statistics-webhook-secret-0123")
	var mu sync.Mutex
	bodies := map[string]map[string]any{} // by Idempotency-Key
	var problems []string
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
			problems = append(problems, "signature: "+err.Error())
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil || r.Header.Get("Exchange-Agreement") != agreement {
			problems = append(problems, "body or agreement header: "+string(body))
		}
		bodies[r.Header.Get(webhook.IdempotencyKeyHeader)] = v
	}))
	defer recv.Close()

	// The registry is the exchange's own, reached once it runs.
	var handler atomic.Pointer[http.Handler]
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	defer reg.Close()
	dir := t.TempDir()
	tok, err := testIssuer().Token(devissuer.Claims{Subject: consumer, Agency: consumer, Roles: []string{auth.RoleConsumer}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	endpoint := webhook.Endpoint{
		Agreement: agreement, Consumer: consumer, URL: recv.URL,
		SecretFile: write("secret", secret),
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Registry: webhook.Registry{URL: reg.URL + "/registry", TokenFile: write("token", []byte(tok))},
	}
	endpoint.TLS = &kafkaclient.TLS{CAFile: write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw}))}

	a, b, _ := startStack(ctx, t, copyExamples(t), func(c *Config) {
		// The embedded broker of the test has no SASL: the connector
		// connects to it as the exchange does.
		kc := c.Kafka.Config
		endpoint.Kafka = &kc
		c.Webhooks = []webhook.Endpoint{endpoint}
		c.SeedFromFiles = true // dev mode's: the example agreements start active
	})
	h := a.HTTP()
	handler.Store(&h)
	sum, err := publishSample(ctx, t, a, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	client := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	topic := names.Deliver(consumer, agreement)
	waitFor(t, "every sample record routed", time.Minute, func() bool {
		return topicSize(ctx, t, client, topic, 3) > 0
	})
	var delivered int64
	waitFor(t, "every delivery posted", time.Minute, func() bool {
		delivered = topicSize(ctx, t, client, topic, 3)
		mu.Lock()
		defer mu.Unlock()
		return int64(len(bodies)) == delivered
	})
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	for id, v := range bodies {
		if _, ok := v["region"]; !ok || v["citizen_id"] != nil {
			t.Errorf("delivery %s: %v is not the agreement's projection", id, v)
		}
	}
	t.Logf("webhook inside the exchange: published %d, delivered to statistics %d, posted %d", sum.Published, delivered, len(bodies))
}
