package indexer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres"
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
)

const (
	testGroup      = "exchange"
	testPartitions = 3
)

// source is the ingress topic of the entries' chains.
var source = names.Ingress("health.immunisations")

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is an embedded broker with the audit topic, and a real store.
type env struct {
	t       testing.TB
	ctx     context.Context
	brokers []string
	dbURL   string
	clients *kafkaclient.Clients
	topic   string
	db      store.Backend
	idx     ledger.Index
	writer  *kafka.Writer
}

// backends runs fn on SQLite and, with EXCHANGE_TEST_DATABASE_URL, on
// PostgreSQL (skipped under -short without it).
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "exchange.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, newEnv(t, storetest.CreateDatabase(t, storetest.PostgresURL(t))))
	})
}

func newEnv(t testing.TB, dbURL string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	idx, ok := db.(ledger.Index)
	if !ok {
		t.Skipf("the %T store does not implement ledger.Index", db)
	}
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	clients, err := kafkaclient.New(kafkaclient.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clients.Close)
	e := &env{t: t, ctx: ctx, brokers: c.ListenAddrs(), dbURL: dbURL, clients: clients, topic: names.Audit(testGroup), db: db, idx: idx}
	_, err = clients.Admin().CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
		{Topic: e.topic, NumPartitions: testPartitions, ReplicationFactor: 1},
	}})
	if err != nil {
		t.Fatalf("creating %s: %v", e.topic, err)
	}
	e.writer = clients.Writer(e.topic)
	e.writer.BatchSize = 1000
	t.Cleanup(func() { e.writer.Close() })
	return e
}

// chainKey is the audit message key of a chain, as the worker writes it.
func chainKey(topic string, partition int32) []byte {
	return fmt.Appendf(nil, "%s/%d", topic, partition)
}

// entries are n realistic entries of the source chain topic/partition from
// offset from on.
func entries(topic string, partition int32, from int64, n int) []ledger.Entry {
	es := make([]ledger.Entry, n)
	for i := range es {
		es[i] = storetest.Entry(topic, partition, from+int64(i))
	}
	return es
}

// publish writes one audit message per batch of per entries of es (all
// of one chain), as the worker does.
func (e *env) publish(es []ledger.Entry, per int) {
	e.t.Helper()
	var msgs []kafka.Message
	for len(es) > 0 {
		n := min(per, len(es))
		msgs = append(msgs, kafka.Message{Key: chainKey(es[0].Topic, es[0].Partition), Value: ledger.AppendAuditBatch(nil, es[:n])})
		es = es[n:]
	}
	e.write(msgs...)
}

func (e *env) write(msgs ...kafka.Message) {
	e.t.Helper()
	if err := e.writer.WriteMessages(e.ctx, msgs...); err != nil {
		e.t.Fatalf("writing audit messages: %v", err)
	}
}

// running is an Indexer running in the background.
type running struct {
	ix      *Indexer
	metrics *Metrics
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
}

// start runs an indexer over idx (nil: the env's store) until stopped or
// the test ends.
func (e *env) start(idx ledger.Index) *running {
	e.t.Helper()
	return e.startWith(idx, Config{})
}

// startWith is start with cfg's non-zero fields over the test config;
// each tweak changes the indexer before it runs.
func (e *env) startWith(idx ledger.Index, cfg Config, tweaks ...func(*Indexer)) *running {
	e.t.Helper()
	if idx == nil {
		idx = e.idx
	}
	m := NewMetrics(nil)
	ix, err := New(testConfig(cfg), idx, WithLogger(quiet), WithMetrics(m), WithClients(e.clients))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tw := range tweaks {
		tw(ix)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	r := &running{ix: ix, metrics: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ix.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

func (r *running) stop(t testing.TB) {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("indexer Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("the indexer did not stop within a minute of its cancel")
		}
	})
}

// caughtUp waits (bounded) until the indexer group has committed every
// audit message written so far.
func (e *env) caughtUp() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	if err := NewLagWatch(e.clients, testGroup, LagLogger(quiet)).WaitCaughtUp(ctx); err != nil {
		e.t.Fatalf("the index did not catch up: %v", err)
	}
}

// verify checks the store's chains and returns the number of entries.
func (e *env) verify() int64 {
	e.t.Helper()
	rep, err := ledger.Verify(e.ctx, e.db, ledger.VerifyOptions{})
	if err != nil {
		e.t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		e.t.Fatalf("verify found breaks: %+v", rep.Breaks)
	}
	return rep.Entries
}

// failingIndex is fault injection over the real store: while down is set
// every call fails as an unreachable store would, without touching it.
type failingIndex struct {
	inner ledger.Index
	mu    sync.Mutex
	down  bool
	calls int // failed calls
}

var errDown = fmt.Errorf("injected outage: %w", ledger.ErrUnavailable)

func (f *failingIndex) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.calls++
		return errDown
	}
	return nil
}

func (f *failingIndex) Index(ctx context.Context, es []ledger.Entry) (ledger.IndexResult, error) {
	if err := f.fail(); err != nil {
		return ledger.IndexResult{}, err
	}
	return f.inner.Index(ctx, es)
}

func (f *failingIndex) RecordFlags(ctx context.Context, flags []ledger.Flag) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.inner.RecordFlags(ctx, flags)
}

func (f *failingIndex) failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *failingIndex) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

// testConfig is cfg with the test group and group timings kfake allows
// (GroupMinSessionTimeout), so a killed member's partitions move quickly.
func testConfig(cfg Config) Config {
	cfg.Group = testGroup
	if cfg.Writers == 0 {
		cfg.Writers = 2 // the tests run the parallel path (chains split over two writes)
	}
	cfg.SessionTimeout, cfg.HeartbeatInterval, cfg.RebalanceTimeout = time.Second, 100*time.Millisecond, 2*time.Second
	return cfg
}
