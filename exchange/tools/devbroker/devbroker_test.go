package devbroker

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
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

// TestSASLUsersEveryStart: with SASL the users are the ones given at each
// start (one added on restart logs in), ACLs persist, anonymous clients
// are cut off.
func TestSASLUsersEveryStart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start("127.0.0.1:0", DataDir(dir), SASL("admin", "pw-admin"), User("a", "pw-a"))
	if err != nil {
		t.Fatal(err)
	}
	admin := client(t, b.Addr(), "admin", "pw-admin")
	if _, err := admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: []kafka.ACLEntry{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "t", ResourcePatternType: kafka.PatternTypeLiteral,
		Principal: "User:b", Host: "*", Operation: kafka.ACLOperationTypeDescribe, PermissionType: kafka.ACLPermissionTypeAllow}}})
	if err != nil || len(res.Errors) != 1 || res.Errors[0] != nil {
		t.Fatalf("CreateACLs: %v %+v", err, res)
	}
	b.Close()

	b2, err := Start("127.0.0.1:0", DataDir(dir), SASL("admin", "pw-admin"), User("a", "pw-a"), User("b", "pw-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	md, err := client(t, b2.Addr(), "b", "pw-b").Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"t"}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("user b, added on restart, describing t (granted before the restart): %v %+v", err, md)
	}
	md, err = client(t, b2.Addr(), "a", "pw-a").Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"t"}})
	if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil {
		t.Fatal("user a, without an ACL, described t")
	}
	anon := &kafka.Client{Addr: kafka.TCP(b2.Addr()), Timeout: 5 * time.Second}
	if _, err := anon.Metadata(ctx, &kafka.MetadataRequest{}); err == nil {
		t.Fatal("an anonymous client was answered")
	}
}

func client(t *testing.T, addr, user, pw string) *kafka.Client {
	t.Helper()
	m, err := scram.Mechanism(scram.SHA512, user, pw)
	if err != nil {
		t.Fatal(err)
	}
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second, Transport: &kafka.Transport{SASL: m}}
}
