package demo_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/demo"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
)

// TestRunFeedsEveryDataset: `exchange dev --demo` publishes to the ingress
// topic of every dataset of the plan and stops cleanly when cancelled.
func TestRunFeedsEveryDataset(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := devbroker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := t.TempDir()
	iss, err := devissuer.Load(data, "http://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	authn, err := iss.Authenticator(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, app.Config{
		HTTP:         app.HTTPSecurity{Auth: authn},
		Kafka:        exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{b.Addr()}}},
		DatabaseURL:  "sqlite://" + filepath.Join(data, "x.db"),
		ContractsDir: "../../../deploy/examples", RegisterSchemaFiles: true,
		KeyFile: filepath.Join(data, "secret.key"), CreateKey: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- demo.Run(runCtx, a, 200) }()
	client := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	datasets := a.Plan().Datasets()
	if len(datasets) == 0 {
		t.Fatal("the example plan has no datasets")
	}
	for _, ds := range datasets {
		topic := names.Ingress(ds)
		for records(ctx, client, topic) == 0 {
			select {
			case <-ctx.Done():
				t.Fatalf("no demo record on %s", topic)
			case err := <-done:
				t.Fatalf("demo stopped before publishing to %s: %v", topic, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

// records is how many records topic holds (0 while it does not exist).
func records(ctx context.Context, c *kafka.Client, topic string) int64 {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) == 0 || md.Topics[0].Error != nil {
		return 0
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range md.Topics[0].Partitions {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p.ID))
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return 0
	}
	var n int64
	for _, po := range resp.Topics[topic] {
		n += po.LastOffset
	}
	return n
}
