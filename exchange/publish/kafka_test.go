package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// registryServer serves one subject's latest version the way a Confluent
// registry does, and 404 with a Confluent error body for anything else.
func registryServer(t *testing.T, subject string, id int, schema string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if r.Method != http.MethodGet || r.URL.Path != "/registry/subjects/"+subject+"/versions/latest" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40401,"message":"Subject '`+strings.TrimPrefix(r.URL.Path, "/registry/subjects/")+`' not found."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": subject, "version": 2, "id": id, "schema": schema})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// publishRoundTrip publishes lines to a fresh ingress topic on brokers through
// the registry of the test, and reads them back with a different client
// (franz-go), checking key, frame and decoded value.
func publishRoundTrip(t *testing.T, brokers []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dataset := fmt.Sprintf("health.visits%d", time.Now().UnixNano())
	topic := names.Ingress(dataset)
	srv := registryServer(t, names.IngressSubject(dataset), 17, personSchema)

	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	w := NewWriter(kc, topic)
	defer w.Close()
	client := kc.Admin()

	if err := CheckTopic(ctx, kc, topic); err == nil {
		t.Fatalf("CheckTopic(%s) before creation: no error", topic)
	}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: topic, NumPartitions: 3, ReplicationFactor: 1},
	}})
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	})
	if err := CheckTopic(ctx, kc, topic); err != nil {
		t.Fatalf("CheckTopic after creation: %v", err)
	}

	s, err := registryhttp.FetchLatest(ctx, srv.Client(), srv.URL+"/registry", names.IngressSubject(dataset))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder(s, "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"record_id":"r-%03d","age":%d,"nickname":null,"status":"ACTIVE","born":"1990-01-%02d",`+
			`"seen_at":"2024-05-01T10:00:%02d.5Z","address":{"city":"Oslo","zip":{"int":%d}},"tags":["a","b"]}`+"\n",
			i, 20+i%50, 1+i%28, i%60, 1000+i)
		if i == 7 {
			in.WriteString(`{"record_id":"bad","age":"abc"}` + "\n")
		}
	}
	var lineErrs []string
	sum, err := Run(ctx, strings.NewReader(in.String()), enc, w, WithBatchSize(64),
		WithLineErrors(func(e *LineError) { lineErrs = append(lineErrs, e.Error()) }))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Published != n || sum.Errors != 1 || len(lineErrs) != 1 ||
		lineErrs[0] != `line 9: field "age": expected int, got string "abc"` {
		t.Fatalf("summary %+v, line errors %q", sum, lineErrs)
	}

	// Read everything back with franz-go.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]map[string]any{}
	partitionOf := map[string]int32{}
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read back %d of %d records before the deadline: %v", len(got), n, err)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			id, body, err := schemas.ParseFrame(r.Value)
			if err != nil || id != 17 {
				t.Fatalf("record %s: frame id %d, err %v", r.Key, id, err)
			}
			var v map[string]any
			if err := avro.Unmarshal(s.Avro, body, &v); err != nil {
				t.Fatalf("record %s: %v", r.Key, err)
			}
			if _, dup := got[string(r.Key)]; dup {
				t.Fatalf("record %s read twice", r.Key)
			}
			got[string(r.Key)] = v
			partitionOf[string(r.Key)] = r.Partition
		})
	}
	partitions := map[int32]bool{}
	for _, p := range partitionOf {
		partitions[p] = true
	}
	if len(partitions) < 2 {
		t.Errorf("all %d keys landed on %d partition(s); want them spread by key", n, len(partitions))
	}
	v := got["r-042"]
	assertPerson(t, v, map[string]any{
		"record_id": "r-042", "age": 20 + 42%50, "nickname": nil, "status": "ACTIVE",
		"born": utc("1990-01-15T00:00:00Z"), "seen_at": utc("2024-05-01T10:00:42.5Z"),
		"address": map[string]any{"city": "Oslo", "zip": 1042}, "tags": []any{"a", "b"},
	})
}

func TestPublishToKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	publishRoundTrip(t, c.ListenAddrs())
}

// TestPublishToKafka runs the same round trip against a real Apache Kafka
// (deploy/local/kafka.sh, started by make test).
func TestPublishToKafka(t *testing.T) {
	brokers := os.Getenv("EXCHANGE_TEST_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("EXCHANGE_TEST_KAFKA_BROKERS is unset (make test starts Apache Kafka with deploy/local/kafka.sh and sets it)")
	}
	publishRoundTrip(t, strings.Split(brokers, ","))
}

func TestCheckTopicUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	err = CheckTopic(ctx, kc, "ingress.x")
	if err == nil || !strings.HasPrefix(err.Error(), "asking 127.0.0.1:1 for topic ingress.x: ") {
		t.Fatalf("error = %v", err)
	}
}
