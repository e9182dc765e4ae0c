package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/exchange"
)

// startIngestServer runs HTTP ingest alone over the store db and the
// policy in dir, producing as the Kafka user of w, until the test ends;
// it returns the base URL.
func startIngestServer(ctx context.Context, t *testing.T, w *aclWorld, user, db, dir string) string {
	t.Helper()
	s, err := NewIngestServer(ctx, IngestConfig{Kafka: w.conn(t, user), DatabaseURL: db, ContractsDir: dir,
		HTTP: testHTTP(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTPIngest: httpingest.Config{ProduceTimeout: 3 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		s.Close()
	})
	return "http://" + ln.Addr().String()
}

// TestIngestServerProducesAsItsKafkaPrincipal runs HTTP ingest alone on a
// broker enforcing ACLs with the agencies' grants only (no HTTP ingest
// grant for the exchange): with health's own Kafka user, health's
// publisher posts to health.immunisations (the agency's WRITE on its
// ingress topic) and the records name the HTTP principal; with tax's
// user, the same post is refused by Kafka (503) and nothing is written.
func TestIngestServerProducesAsItsKafkaPrincipal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HTTP ingest on a broker with ACLs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, admin := grantedACLWorld(ctx, t, acl.Options{ExchangePrincipal: "User:exchange"})
	ingress := names.Ingress(immunisations)
	if err := exchange.EnsureTopics(ctx, admin, []string{ingress}, 3, 1); err != nil {
		t.Fatal(err)
	}
	// The exchange registered the schemas in the store both share.
	data, dir := t.TempDir(), copyExamples(t)
	db := "sqlite://" + filepath.Join(data, "x.db")
	a, err := New(ctx, Config{Kafka: kafkaAt("127.0.0.1:1"), DatabaseURL: db, ContractsDir: dir, RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HTTP: testHTTP(t)})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	asHealth := startIngestServer(ctx, t, w, "health", db, dir)
	if res := postRecords(t, asHealth, immunisations, &healthPub, "", mustJSON(t, sampleRecords(t, "own", 3))); res.code != 200 {
		t.Fatalf("posting as health's publisher through health's Kafka user: %d %s", res.code, res.body)
	}
	client := admin.Admin()
	got := readTopic(ctx, t, client, ingress, 3)
	if len(got) != 3 {
		t.Fatalf("%d records on %s, want the 3 accepted", len(got), ingress)
	}
	for _, m := range got {
		if h := header(m, httpingest.HeaderPrincipal); !strings.Contains(h, "agency health") {
			t.Fatalf("record at %d/%d: %s = %q, want the HTTP principal", m.Partition, m.Offset, httpingest.HeaderPrincipal, h)
		}
	}

	asTax := startIngestServer(ctx, t, w, "tax", db, dir)
	if res := postRecords(t, asTax, immunisations, &healthPub, "", mustJSON(t, sampleRecords(t, "other", 3))); res.code != 503 {
		t.Fatalf("posting health's records through tax's Kafka user: %d %s, want 503 (Kafka refuses the write)", res.code, res.body)
	}
	if n := topicSize(ctx, t, client, ingress, 3); n != 3 {
		t.Fatalf("%d records on %s after the refused post, want still 3", n, ingress)
	}
}
