package webhook_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

const (
	consumer   = "social"
	agreement  = "health-to-social-2026-001"
	partitions = 3
	// derivedSchema stands for an agreement's derived schema: what the
	// exchange registers under the deliver subject and frames values with.
	derivedSchema = `{"type":"record","name":"Immunisation","namespace":"exchange.derived.health_to_social_2026_001","fields":[
		{"name":"person","type":"string"},{"name":"seq","type":"int"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"dose","type":["null","string"],"default":null}]}`
)

// registrySecret is the consumer's registry password (HTTP Basic).
const registrySecret = "registry-secret-of-social"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a kfake broker enforcing SASL and ACLs (as exchange dev's),
// the delivery topic of one agreement, a schema registry holding its
// derived schema, and the consumer agency's grants.
type world struct {
	t          *testing.T
	broker     *kafkatest.SASLBroker
	super      *kafkaclient.Clients // the exchange's user: writes deliveries, reads offsets
	topic      string
	registry   string // https, its certificate in registryCA
	registryCA string
	schemaID   int
	schema     avro.Schema
	dir        string
	secret     []byte
	prom       *prometheus.Registry
	metrics    *webhook.Metrics
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, topic: names.Deliver(consumer, agreement), dir: t.TempDir(), secret: []byte("a-shared-secret-of-the-endpoint")}
	w.broker = kafkatest.Kfake(t, []string{"exchange"}, []string{consumer}, kfake.GroupMinSessionTimeout(time.Second))
	w.super = w.clientsAs("exchange")
	ctx := testCtx(t)
	res, err := w.super.Admin().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: w.topic, NumPartitions: partitions, ReplicationFactor: 1}}})
	if err != nil || res.Errors[w.topic] != nil {
		t.Fatalf("creating %s: %v %v", w.topic, err, res)
	}
	w.grant()

	reg := schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(quiet))
	if w.schemaID, err = reg.Register(ctx, names.DeliverSubject(consumer, agreement), derivedSchema); err != nil {
		t.Fatal(err)
	}
	if w.schema, err = avro.Parse(derivedSchema); err != nil {
		t.Fatal(err)
	}
	// The registry, as the exchange's, reads schemas to authenticated
	// principals only: the connector must present the consumer's secret.
	h := registryhttp.Handler(reg, quiet)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != consumer || p != registrySecret {
			http.Error(rw, `{"error_code":40101,"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w.registry = srv.URL
	w.registryCA = caFile(t, srv)
	if err := os.WriteFile(filepath.Join(w.dir, "secret"), append(w.secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "registry-user-info"), []byte(consumer+":"+registrySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.prom = prometheus.NewRegistry()
	if w.metrics, err = webhook.NewMetrics(w.prom); err != nil {
		t.Fatal(err)
	}
	return w
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// kafkaConfig is the connection block of user, its password in a file.
func (w *world) kafkaConfig(user string) *kafkaclient.Config {
	pw := filepath.Join(w.dir, user+".password")
	if err := os.WriteFile(pw, []byte(w.broker.Password(w.t, user)), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return &kafkaclient.Config{Brokers: w.broker.Brokers,
		SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user, PasswordFile: pw}}
}

func (w *world) clientsAs(user string) *kafkaclient.Clients {
	kc, err := kafkaclient.New(*w.kafkaConfig(user))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(kc.Close)
	return kc
}

// consumerRules are the grants IDENTITY.md gives the consumer while its
// agreement may deliver.
func (w *world) consumerRules() []acl.Rule {
	p := "User:" + consumer
	return []acl.Rule{
		{Principal: p, ResourceType: acl.Topic, PatternType: acl.Literal, ResourceName: w.topic, Operation: acl.Read, Permission: acl.Allow, Host: "*"},
		{Principal: p, ResourceType: acl.Topic, PatternType: acl.Literal, ResourceName: w.topic, Operation: acl.Describe, Permission: acl.Allow, Host: "*"},
		{Principal: p, ResourceType: acl.Group, PatternType: acl.Prefixed, ResourceName: names.GroupPrefixOf(consumer), Operation: acl.Read, Permission: acl.Allow, Host: "*"},
	}
}

func (w *world) grant() {
	if err := aclsync.Apply(testCtx(w.t), w.super, acl.Changes{Create: w.consumerRules()}); err != nil {
		w.t.Fatalf("granting: %v", err)
	}
}

// revoke removes the consumer's topic grants, as the exchange's ACL sync
// does when the agreement is suspended or revoked (the group prefix stays:
// other agreements use it).
func (w *world) revoke() {
	if err := aclsync.Apply(testCtx(w.t), w.super, acl.Changes{Delete: w.consumerRules()[:2]}); err != nil {
		w.t.Fatalf("revoking: %v", err)
	}
}

// produced is one delivery written to the topic.
type produced struct {
	id        string
	key       string
	seq       int
	partition int
	offset    int64
}

// produce writes n deliveries over keys (per key: seq 0, 1, …) as the
// exchange does: framed under the derived schema's id, with the exchange
// headers, keyed (every key on one partition). It returns them with their
// positions, read back from the topic.
func (w *world) produce(n, keys, first int) []produced {
	w.t.Helper()
	ctx := testCtx(w.t)
	wr := w.super.Writer(w.topic)
	defer wr.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		k := fmt.Sprintf("person-%d", i%keys)
		seq := (first + i) / keys
		value, err := avro.Marshal(w.schema, map[string]any{"person": k, "seq": seq, "at": time.UnixMilli(1767225600000 + int64(i)).UTC(),
			"dose": map[string]any{"string": "second"}})
		if err != nil {
			w.t.Fatal(err)
		}
		src := names.Ingress("health.immunisations")
		id := ledger.DeliveryID(agreement, src, 0, int64(first+i))
		msgs[i] = kafka.Message{Key: []byte(k), Value: append(schemas.AppendFrame(nil, w.schemaID), value...), Headers: []kafka.Header{
			{Key: exchange.HeaderAgreement, Value: []byte(agreement)},
			{Key: exchange.HeaderDeliveryID, Value: []byte(id)},
			{Key: exchange.HeaderSource, Value: []byte(src + "/0/" + strconv.Itoa(first+i))},
			{Key: exchange.HeaderEventTime, Value: []byte("2026-01-01T00:00:00.000Z")},
			{Key: exchange.HeaderTraceparent, Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
			{Key: exchange.HeaderSignature, Value: []byte("v1;kid=x;n=1;i=0;path=;sig=x")},
			{Key: "publisher-own", Value: []byte("not forwarded")},
		}}
	}
	if err := wr.WriteMessages(ctx, msgs...); err != nil {
		w.t.Fatalf("producing deliveries: %v", err)
	}
	var out []produced
	for _, m := range w.readAll() {
		var id string
		for _, h := range m.Headers {
			if h.Key == exchange.HeaderDeliveryID {
				id = string(h.Value)
			}
		}
		var v struct {
			Seq int `avro:"seq"`
		}
		if err := avro.Unmarshal(w.schema, m.Value[5:], &v); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, produced{id: id, key: string(m.Key), seq: v.Seq, partition: m.Partition, offset: m.Offset})
	}
	return out
}

// readAll reads every record of the topic as the exchange's user.
func (w *world) readAll() []kafka.Message {
	ctx := testCtx(w.t)
	var out []kafka.Message
	for p, end := range w.ends() {
		r := w.super.Reader(kafka.ReaderConfig{Topic: w.topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for off := int64(0); off < end; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				w.t.Fatalf("reading back partition %d: %v", p, err)
			}
			out = append(out, m)
		}
		r.Close()
	}
	return out
}

// ends are the partitions' end offsets.
func (w *world) ends() map[int]int64 {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics[w.topic] = append(req.Topics[w.topic], kafka.LastOffsetOf(p))
	}
	res, err := w.super.Admin().ListOffsets(testCtx(w.t), req)
	if err != nil {
		w.t.Fatalf("end offsets: %v", err)
	}
	out := map[int]int64{}
	for _, po := range res.Topics[w.topic] {
		out[po.Partition] = po.LastOffset
	}
	return out
}

// committed are the group's committed offsets (absent: none), read by
// the exchange's user through an admin client.
func (w *world) committed() map[int]int64 {
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	res, err := w.super.Admin().OffsetFetch(testCtx(w.t), &kafka.OffsetFetchRequest{GroupID: names.WebhookGroup(consumer, agreement), Topics: map[string][]int{w.topic: parts}})
	if err == nil {
		err = res.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		return map[int]int64{} // kfake: no member joined yet, nothing committed
	}
	if err != nil {
		w.t.Errorf("reading committed offsets: %v", err)
		return nil
	}
	out := map[int]int64{}
	for _, p := range res.Topics[w.topic] {
		if p.Error == nil && p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out
}

// endpoint is the webhook of the agreement to url (TLS trusted through
// the receiver's certificate in caFile), fast retries for the test.
func (w *world) endpoint(url, caFile string) webhook.Endpoint {
	return webhook.Endpoint{
		Agreement: agreement, Consumer: consumer, URL: url,
		SecretFile: filepath.Join(w.dir, "secret"),
		TLS:        &kafkaclient.TLS{CAFile: caFile},
		Timeout:    300 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		AlertAfter: 200 * time.Millisecond, AuthzInterval: 100 * time.Millisecond,
		Kafka:    w.kafkaConfig(consumer),
		Registry: webhook.Registry{URL: w.registry, UserInfoFile: filepath.Join(w.dir, "registry-user-info"), CAFile: w.registryCA},
	}
}

// run starts the connector; the returned stop cancels it and waits.
func (w *world) run(e webhook.Endpoint) (stop func()) {
	w.t.Helper()
	return w.runLogging(e, quiet)
}

func (w *world) runLogging(e webhook.Endpoint, log *slog.Logger) (stop func()) {
	w.t.Helper()
	c, err := webhook.New(e, webhook.Logger(log), webhook.WithMetrics(w.metrics))
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				w.t.Errorf("Run: %v", err)
			}
			c.Close()
		})
	}
	w.t.Cleanup(stop)
	return stop
}

// properties writes the consumer's client properties file, as exchange
// dev writes one per agency (Kafka and registry credentials).
func (w *world) properties() string {
	p := filepath.Join(w.dir, consumer+".properties")
	text := fmt.Sprintf("bootstrap.servers=%s\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		"sasl.username=%s\nsasl.password=%s\nschema.registry.url=%s\nbasic.auth.credentials.source=USER_INFO\nbasic.auth.user.info=%s:%s\n",
		w.broker.Brokers[0], consumer, w.broker.Password(w.t, consumer), w.registry, consumer, registrySecret)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// counter is the value of a counter of the agreement with the label
// code, or 0.
func (w *world) counter(name, code string) float64 {
	mfs, err := w.prom.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ok := mf.GetName() == name
			for _, l := range m.GetLabel() {
				if (l.GetName() == "agreement" && l.GetValue() != agreement) || (l.GetName() == "code" && l.GetValue() != code) {
					ok = false
				}
			}
			if ok && m.Counter != nil {
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

// gauge is the value of a metric of the connector (with the agreement
// label, and partition when given), or -1 when absent.
func (w *world) gauge(name string, partition string) float64 {
	mfs, err := w.prom.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["agreement"] != agreement || (partition != "" && labels["partition"] != partition) {
				continue
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return -1
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caFile writes the TLS receiver's certificate as the CA to trust.
func caFile(t *testing.T, srv *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logBuffer collects a connector's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
