package devbroker

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestStartServesKafkaAndPersists(t *testing.T) {
	dir := t.TempDir()
	b, err := Start("127.0.0.1:0", DataDir(dir), SyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(addr)}
	if _, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "t", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b.Close()

	// Restart on the same directory: the record is still there.
	b2, err := Start("127.0.0.1:0", DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b2.Addr()}, Topic: "t", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != "v1" || string(m.Key) != "k" {
		t.Fatalf("got %q=%q after restart, want k=v1", m.Key, m.Value)
	}
}

func TestStartPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(ln.Addr().String())
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start on a used port: got %v, want ErrAddrInUse", err)
	}
}
