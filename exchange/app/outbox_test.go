package app

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/outbox"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
)

// TestOutboxConnectorRunsInsideTheExchange configures one outbox connector
// (connectors: outboxes: of exchange.yaml) and finds the rows of the
// agency's outbox table on the ingress topic, published through the
// exchange's own registry with the agency's token, and the table emptied.
func TestOutboxConnectorRunsInsideTheExchange(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole exchange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := storetest.CreateDatabase(t, storetest.PostgresURL(t))
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE exchange_outbox (id bigserial PRIMARY KEY, dataset text NOT NULL,
		payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	const rows = 5
	f, err := os.Open("../../deploy/examples/records/health.immunisations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; i < rows && sc.Scan(); i++ {
		if _, err := conn.Exec(ctx, "INSERT INTO exchange_outbox (dataset, payload) VALUES ('health.immunisations', $1)", sc.Text()); err != nil {
			t.Fatal(err)
		}
	}

	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "health.token")
	if err := os.WriteFile(token, []byte(bearer(t, healthPublisher)[len("Bearer "):]), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EXCHANGE_TEST_OUTBOX_URL", dbURL)
	ob := outbox.Config{Agency: "health", Mode: outbox.ModePoll, PollInterval: 50 * time.Millisecond,
		Database: outbox.Database{URLEnv: "EXCHANGE_TEST_OUTBOX_URL"},
		Kafka:    &kafkaclient.Config{Brokers: []string{b.Addr()}},
		Registry: outbox.Registry{URL: "http://" + ln.Addr().String() + "/registry", TokenFile: token}}
	ob.ApplyDefaults()
	data := t.TempDir()
	a, err := New(ctx, Config{
		HTTP: testHTTP(t), Kafka: kafkaAt(b.Addr()), DatabaseURL: "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: copyExamples(t), RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true, ReloadInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Outboxes: []outbox.Config{ob},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	})

	client := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	ingress := names.Ingress("health.immunisations")
	waitFor(t, "the outbox rows on "+ingress, time.Minute, func() bool {
		return topicSize(ctx, t, client, ingress, 3) >= rows
	})
	waitFor(t, "the outbox to empty", 30*time.Second, func() bool {
		var n int
		return conn.QueryRow(ctx, "SELECT count(*) FROM exchange_outbox").Scan(&n) == nil && n == 0
	})
	if got := topicSize(ctx, t, client, ingress, 3); got != rows {
		t.Fatalf("%s holds %d records, want the %d rows of the outbox", ingress, got, rows)
	}
}
