package exchange

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/indexer"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite" // sqlite:// URLs
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// The end-to-end suite runs on an in-process kfake broker, or on the
// brokers in EXCHANGE_TEST_KAFKA_BROKERS (comma-separated), e.g. an Apache
// Kafka started by deploy/local scripts. Names carry a random suffix so
// runs never see each other's topics or groups on a shared cluster.
const envBrokers = "EXCHANGE_TEST_KAFKA_BROKERS"

// testKafka is the broker of one test.
type testKafka struct {
	brokers   []string
	real      bool
	transport *kafka.Transport
	// query carries the test's metadata and offset requests. Its short
	// metadata TTL lets it see topics the worker created through its own
	// transport.
	query *kafka.Transport
}

func startKafka(t testing.TB) *testKafka {
	t.Helper()
	tr := &kafka.Transport{}
	q := &kafka.Transport{MetadataTTL: 20 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(q.CloseIdleConnections)
	if env := os.Getenv(envBrokers); env != "" {
		return &testKafka{brokers: strings.Split(env, ","), real: true, transport: tr, query: q}
	}
	c, err := kfake.NewCluster(
		kfake.Ports(0), // 127.0.0.1, a free port
		kfake.NumBrokers(1),
		// kfake refuses session timeouts under 6 s otherwise; short ones
		// let a killed member leave the group quickly.
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &testKafka{brokers: c.ListenAddrs(), transport: tr, query: q}
}

// groupTimings are consumer-group timings a test can afford: short on kfake;
// on real Kafka the broker's group.min.session.timeout.ms (6 s) applies.
func (k *testKafka) groupTimings(cfg *WorkerConfig) {
	if k.real {
		cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout = 6*time.Second, 500*time.Millisecond, 6*time.Second
		return
	}
	cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout = time.Second, 100*time.Millisecond, 2*time.Second
}

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (k *testKafka) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.brokers...), Transport: k.query, Timeout: 10 * time.Second}
}

// kafkaAt is the Kafka block of a worker under test: brokers and group
// ("": the default), defaults elsewhere.
func kafkaAt(brokers []string, group string) KafkaConfig {
	return KafkaConfig{Config: kafkaclient.Config{Brokers: brokers}, GroupID: group}
}

// clients builds the test's kafka-go clients over its shared transport.
func (k *testKafka) clients(t testing.TB) *kafkaclient.Clients {
	t.Helper()
	c, err := kafkaclient.New(kafkaclient.Config{Brokers: k.brokers}, kafkaclient.WithTransport(k.transport))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ensure creates topics through the transport the test writer uses, so it
// sees them at once.
func (k *testKafka) ensure(t testing.TB, partitions int, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, k.clients(t), topics, partitions, 0); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
}

// publish writes msgs with acks=all through kafka-go, as an agency would.
func (k *testKafka) publish(t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(k.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchSize: 1000, Transport: k.transport,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := w.WriteMessages(ctx, msgs...)
		if err == nil {
			return
		}
		// A topic just created may still be settling on a real cluster.
		if attempt >= 20 || ctx.Err() != nil {
			t.Fatalf("publish: %v", err)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// partitions returns the partition ids of topic.
func (k *testKafka) partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := k.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	for _, tm := range md.Topics {
		if tm.Name == topic {
			if tm.Error != nil {
				return nil, tm.Error
			}
			var ps []int
			for _, p := range tm.Partitions {
				ps = append(ps, p.ID)
			}
			sort.Ints(ps)
			return ps, nil
		}
	}
	return nil, fmt.Errorf("topic %s not in metadata", topic)
}

// endOffsets returns the next offset of every partition of topic.
func (k *testKafka) endOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	ps, err := k.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range ps {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	res, err := k.client().ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// committed returns the group's committed offsets on topic (-1: none).
func (k *testKafka) committed(ctx context.Context, group, topic string) (map[int]int64, error) {
	// The metadata request may meet a pooled connection a worker's
	// shutdown left behind with an expired deadline (seen once on a loaded
	// machine): a failed lookup is retried, the offsets are never guessed.
	var ps []int
	err := kafkatest.Eventually(10*time.Second, func(err error) bool { return err == nil || ctx.Err() != nil }, func() error {
		var err error
		ps, err = k.partitions(ctx, topic)
		return err
	})
	if err != nil {
		return nil, err
	}
	res, err := k.client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		return nil, err
	}
	if res.Error != nil {
		return nil, res.Error
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// waitCaughtUp polls until group has committed every partition of every
// topic up to its end: every record was produced and audited by then.
func (k *testKafka) waitCaughtUp(t testing.TB, group string, timeout time.Duration, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok := true
		for _, topic := range topics {
			end, err := k.endOffsets(ctx, topic)
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			com, err := k.committed(ctx, group, topic)
			if err != nil {
				ok, last = false, err.Error()
				break
			}
			for p, e := range end {
				if e > 0 && com[p] != e {
					ok, last = false, fmt.Sprintf("%s/%d committed %d of %d", topic, p, com[p], e)
				}
			}
		}
		cancel()
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for a condition
	}
	t.Fatalf("group %s not caught up within %v: %s", group, timeout, last)
}

// readAll reads every record of topic from the start to its current end.
func (k *testKafka) readAll(t testing.TB, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end, err := k.endOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var out []kafka.Message
	for p, e := range end {
		if e == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: k.brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond,
		})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset >= e-1 {
				break
			}
		}
		r.Close()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

func header(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// entryKey names a source position.
func entryKey(topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d/%d", topic, partition, offset)
}

// testLedger is the ledger of the worker tests: a real SQLite store in the
// test's temporary directory, written by a real audit indexer from the
// audit topic; reads wait until it has indexed what the topic holds.
type testLedger struct {
	store.Backend
	// caughtUp returns once the index holds what the audit topic held
	// when it was called; nil: no indexer runs.
	caughtUp func(context.Context) error
}

func newTestLedger(t testing.TB) *testLedger {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatalf("opening the test ledger: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &testLedger{Backend: db}
}

// ensureAudit creates group's audit topic (as its worker would), so the
// test's index lag watch finds it from the start.
func (k *testKafka) ensureAudit(t testing.TB, group string, partitions int) {
	t.Helper()
	if err := EnsureAuditTopic(t.Context(), k.clients(t), names.Audit(group), partitions, 0); err != nil {
		t.Fatalf("creating the audit topic: %v", err)
	}
}

// index runs the audit indexer of group's exchange (on brokers) into l
// for the rest of the test; l's reads then wait for it to catch up.
func (l *testLedger) index(t testing.TB, brokers []string, group string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ix := newTestIndexer(t, brokers, group, l.Backend)
	go func() { defer close(done); _ = ix.Run(ctx) }()
	lw := newTestLagWatch(t, brokers, group)
	t.Cleanup(func() { cancel(); <-done })
	l.caughtUp = lw.WaitCaughtUp
}

// newTestIndexer is the audit indexer of group's exchange (on brokers),
// writing idx.
func newTestIndexer(t testing.TB, brokers []string, group string, idx ledger.Index) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.New(indexer.Config{Kafka: kafkaAt(brokers, group).Config, Group: group, Linger: time.Millisecond}, idx, indexer.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("indexer: %v", err)
	}
	return ix
}

// newTestLagWatch watches how far group's indexer is behind its audit topic.
func newTestLagWatch(t testing.TB, brokers []string, group string) *indexer.LagWatch {
	t.Helper()
	clients, err := kafkaclient.New(kafkaAt(brokers, group).Config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clients.Close)
	return indexer.NewLagWatch(clients, group)
}

// all returns every stored entry, chain by chain in seq order; the ledger
// verifies first.
func (l *testLedger) all(t testing.TB) []ledger.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if l.caughtUp != nil {
		if err := l.caughtUp(ctx); err != nil {
			t.Fatalf("waiting for the audit index to catch up: %v", err)
		}
	}
	if rep, err := ledger.Verify(ctx, l, ledger.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("ledger verify: %v %+v", err, rep)
	}
	chains, err := l.Chains(ctx)
	if err != nil {
		t.Fatalf("listing chains: %v", err)
	}
	var out []ledger.Entry
	for _, c := range chains {
		err := l.ChainEntries(ctx, c, func(e *ledger.Entry) error {
			out = append(out, cloneEntry(e))
			return nil
		})
		if err != nil {
			t.Fatalf("reading chain %s: %v", c, err)
		}
	}
	return out
}

// cloneEntry copies e with its slices (ChainEntries may reuse them).
func cloneEntry(e *ledger.Entry) ledger.Entry {
	c := *e
	c.KeyHash, c.PayloadHash, c.SubjectHash = slices.Clone(e.KeyHash), slices.Clone(e.PayloadHash), slices.Clone(e.SubjectHash)
	c.PrevHash, c.Hash = slices.Clone(e.PrevHash), slices.Clone(e.Hash)
	c.Reasons, c.Deliveries, c.Skips = slices.Clone(e.Reasons), slices.Clone(e.Deliveries), slices.Clone(e.Skips)
	return c
}

// byPosition returns the stored entries by entryKey (one verified read).
func (l *testLedger) byPosition(t testing.TB) map[string]ledger.Entry {
	t.Helper()
	out := map[string]ledger.Entry{}
	for _, e := range l.all(t) {
		out[entryKey(e.Topic, e.Partition, e.Offset)] = e
	}
	return out
}

// len counts the stored entries.
func (l *testLedger) len(t testing.TB) int {
	t.Helper()
	return len(l.all(t))
}

func runWorker(t testing.TB, w *Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("worker did not stop within 60s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
}
