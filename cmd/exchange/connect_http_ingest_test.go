package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/server/auth/authtest"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
)

// ingestWorld is `exchange connect http-ingest` run in-process on an
// embedded broker, beside the SQLite store and contracts an exchange
// would share with it.
type ingestWorld struct {
	*serveWorld
	base      string
	db        string
	contracts string
	kafka     *kafkaclient.Clients
	done      chan error
	stop      context.CancelFunc
}

// startConnectHTTPIngest prepares what the exchange would have made (the
// schemas in the store, the ingress topic) and starts the connector alone
// with OIDC authentication and no secrets.* in its configuration.
func startConnectHTTPIngest(ctx context.Context, t *testing.T) *ingestWorld {
	t.Helper()
	w := &ingestWorld{serveWorld: &serveWorld{}, contracts: copyExamples(t), done: make(chan error, 1)}
	jwksURL := w.startIssuer(t)
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	w.db = "sqlite://" + filepath.Join(dir, "x.db")
	preregisterSchemas(ctx, t, w.db, filepath.Join(dir, "secret.key"))
	if w.kafka, err = kafkaclient.New(kafkaclient.Config{Brokers: []string{b.Addr()}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.kafka.Close)
	if err := exchange.EnsureTopics(ctx, w.kafka, []string{names.Ingress("health.immunisations")}, 3, 1); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`kafka: {brokers: [%s]}
database: {url: %q}
contracts: {dir: %s}
http: {addr: %s}
auth:
  oidc: {issuer: %s, audience: exchange, jwks_url: %s}
connectors:
  http_ingest: {produce_timeout: 5s}
`, b.Addr(), w.db, w.contracts, addr, w.issuer, jwksURL)
	runCtx, stop := context.WithCancel(ctx)
	w.stop = stop
	// --insecure for Kafka only: the embedded broker has no SASL here.
	go func() {
		w.done <- connectCmd(runCtx, []string{"http-ingest", "--config", authtest.WriteFile(t, dir, "exchange.yaml", []byte(cfg)), "--insecure", "--log-json=false"})
	}()
	t.Cleanup(func() { stop(); <-w.done })
	w.base = "http://" + addr
	waitHealthy(t, "connect http-ingest", http.DefaultClient, w.base, w.done)
	return w
}

// waitHealthy waits for base/healthz to answer 200 through c, and fails
// at once with the command's error if done (buffered) reports it stopped;
// the error is put back for the test's cleanup.
func waitHealthy(t *testing.T, what string, c *http.Client, base string, done chan error) {
	t.Helper()
	waitFor(t, what+" to listen", 30*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s stopped: %v", what, err)
		default:
		}
		resp, err := c.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// post posts body to dataset's records with token ("": none) and key.
func (w *ingestWorld) post(t *testing.T, dataset, token, key, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.base+"/api/v1/datasets/"+dataset+"/records", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set(httpingest.HeaderIdempotencyKey, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// recordAt is the record of topic at partition/offset.
func (w *ingestWorld) recordAt(ctx context.Context, t *testing.T, topic string, at httpingest.Position) kafka.Message {
	t.Helper()
	res, err := w.kafka.Admin().Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: at.Partition, Offset: at.Offset, MaxBytes: 1 << 20})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		t.Fatalf("reading %s[%d]@%d: %v", topic, at.Partition, at.Offset, err)
	}
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			t.Fatalf("no record at %s[%d]@%d", topic, at.Partition, at.Offset)
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Offset == at.Offset {
			m := kafka.Message{Partition: at.Partition, Offset: r.Offset, Headers: r.Headers}
			m.Key, _ = io.ReadAll(r.Key)
			m.Value, _ = io.ReadAll(r.Value)
			return m
		}
	}
}

// TestConnectHTTPIngestAlone runs HTTP ingest as its own process: a
// publisher's records land on ingress.<d> at the positions answered,
// named for the publisher; an Idempotency-Key retry is answered from the
// shared store; anonymous calls get 401; the exchange's other surfaces
// are not there (404); a contract added to the directory is served after
// the reload; SIGTERM (the context) stops it cleanly.
func TestConnectHTTPIngestAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs exchange connect http-ingest")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := startConnectHTTPIngest(ctx, t)
	token := w.token(t, w.issuer, "exchange", time.Now().Add(time.Hour))
	ingress := names.Ingress("health.immunisations")

	code, _, body := w.post(t, "health.immunisations", token, "", "["+immunisationJSON("alone-1")+","+immunisationJSON("alone-2")+"]")
	var ok struct {
		Accepted  int                   `json:"accepted"`
		Positions []httpingest.Position `json:"positions"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &ok) != nil || ok.Accepted != 2 || len(ok.Positions) != 2 {
		t.Fatalf("posting 2 records as health's publisher: %d %s", code, body)
	}
	for i, at := range ok.Positions {
		m := w.recordAt(ctx, t, ingress, at)
		if want := fmt.Sprintf("alone-%d", i+1); string(m.Key) != want || len(m.Value) < 5 || m.Value[0] != 0 {
			t.Errorf("record at %+v: key %q, value % x…, want key %s and the Confluent wire format", at, m.Key, m.Value[:min(5, len(m.Value))], want)
		}
		if h := header(m, httpingest.HeaderPrincipal); !strings.Contains(h, "health") {
			t.Errorf("record at %+v: %s = %q, want the HTTP principal", at, httpingest.HeaderPrincipal, h)
		}
	}

	checkSharedIdempotency(ctx, t, w, token)
	if code, _, body := w.post(t, "health.immunisations", "", "", "["+immunisationJSON("anon")+"]"); code != 401 {
		t.Errorf("anonymous post: %d %s, want 401", code, body)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/audit"}, {"GET", "/api/v1/agreements"}, {"GET", "/api/v1/openapi.json"},
		{"GET", "/registry/subjects"}, {"POST", "/registry/subjects/" + names.IngressSubject("health.immunisations") + "/versions"},
	} {
		if code, body := status(t, http.DefaultClient, c.method, w.base+c.path, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); code != 404 {
			t.Errorf("%s %s on HTTP ingest alone: %d %s, want 404", c.method, c.path, code, body)
		}
	}
	if code, body := status(t, http.DefaultClient, "GET", w.base+"/readyz", nil); code != 200 ||
		!strings.Contains(body, `"name":"store","ok":true`) || !strings.Contains(body, `"name":"kafka","ok":true`) {
		t.Errorf("/readyz: %d %s, want ready with the store and Kafka checked", code, body)
	}
	checkContractsReload(t, w, token)

	w.stop()
	if err := <-w.done; err != nil {
		t.Fatalf("stopping (as on SIGTERM): %v, want a clean stop", err)
	}
	w.done <- nil // for the cleanup
}

// TestConnectHTTPIngestRefusesUnauthenticated: as serve, HTTP ingest
// alone refuses to start without Kafka authentication, then without HTTP
// authentication, unless --insecure.
func TestConnectHTTPIngestRefusesUnauthenticated(t *testing.T) {
	t.Setenv("EXCHANGE_KAFKA_BROKERS", "127.0.0.1:1")
	t.Setenv("EXCHANGE_DATABASE_URL", "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	t.Setenv("EXCHANGE_CONTRACTS_DIR", t.TempDir())
	err := connectCmd(context.Background(), []string{"http-ingest"})
	if err == nil || !strings.Contains(err.Error(), "kafka: no authentication configured") {
		t.Fatalf("without Kafka authentication: %v", err)
	}
	t.Setenv("EXCHANGE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
	t.Setenv("EXCHANGE_KAFKA_SASL_USERNAME", "exchange")
	t.Setenv("EXCHANGE_KAFKA_SASL_PASSWORD_FILE", filepath.Join(t.TempDir(), "pw"))
	err = connectCmd(context.Background(), []string{"http-ingest"})
	if err == nil || !strings.Contains(err.Error(), "http: no authentication configured") || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("without HTTP authentication: %v", err)
	}
}

// checkSharedIdempotency: a retry with the same Idempotency-Key gets the
// first answer back, and the key is held in the exchange's store, where
// the exchange and every other ingest process find it.
func checkSharedIdempotency(ctx context.Context, t *testing.T, w *ingestWorld, token string) {
	t.Helper()
	body := "[" + immunisationJSON("alone-key") + "]"
	c1, _, b1 := w.post(t, "health.immunisations", token, "alone-retry", body)
	c2, h2, b2 := w.post(t, "health.immunisations", token, "alone-retry", body)
	if c1 != 200 || c2 != 200 || b1 != b2 || h2.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retry with the same Idempotency-Key: %d %s then %d %s, want the first answer replayed", c1, b1, c2, b2)
	}
	db, err := store.Open(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	_, claimed, err := db.ClaimIngestKey(ctx, store.IngestKey{Principal: "agency:health:health-gateway", Key: "alone-retry", RequestHash: []byte("x"),
		Created: now, Expires: now.Add(time.Hour), LockedUntil: now.Add(time.Hour)}, now)
	if err != nil || claimed {
		t.Fatalf("claiming the key in the shared store: claimed %v, %v; want it held by the ingest process's answer", claimed, err)
	}
}

// checkContractsReload: a dataset unknown to the contracts is 404; once
// its contract is in the directory the reload knows it (409: no schema
// registered yet), without a restart.
func checkContractsReload(t *testing.T, w *ingestWorld, token string) {
	t.Helper()
	if code, _, body := w.post(t, "health.vitals", token, "", "[]"); code != 404 {
		t.Fatalf("a dataset without a contract: %d %s, want 404", code, body)
	}
	text, err := os.ReadFile(filepath.Join(w.contracts, "contract-health.immunisations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vitals := strings.ReplaceAll(string(text), "health.immunisations", "health.vitals")
	if err := os.WriteFile(filepath.Join(w.contracts, "contract-health.vitals.yaml"), []byte(vitals), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new contract to be in force", 30*time.Second, func() bool {
		code, _, _ := w.post(t, "health.vitals", token, "", "[]")
		return code == http.StatusConflict
	})
}

// header is the value of a record's header key.
func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
