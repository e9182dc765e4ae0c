package outbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/store/storetest"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

const (
	testAgency  = "health"
	testDataset = "health.visits"
	visitSchema = `{"type":"record","name":"Visit","namespace":"health","fields":[
		{"name":"record_id","type":"string"},{"name":"seq","type":"long"},{"name":"note","type":["null","string"],"default":null}]}`
	outboxDDL = `CREATE TABLE exchange_outbox (
		id bigserial PRIMARY KEY, dataset text NOT NULL, payload jsonb NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`
)

// world is one test's agency database, broker and schema.
type world struct {
	t      *testing.T
	dbURL  string
	broker *kafkatest.SASLBroker
	schema *schemas.SchemaVersion
	topic  string
	admin  *kafka.Client // as the exchange, the only reader of ingress.*
	db     *pgxpool.Pool // the agency's database, as its system writes it
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, topic: names.Ingress(testDataset)}
	w.dbURL = storetest.CreateDatabase(t, storetest.PostgresURL(t))
	db, err := pgxpool.New(context.Background(), w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close) // before the database is dropped
	w.db = db
	w.exec(outboxDDL)
	s, err := registryhttp.ParseSchema(names.IngressSubject(testDataset), 1, 7, visitSchema)
	if err != nil {
		t.Fatal(err)
	}
	w.schema = s
	w.broker = kafkatest.Kfake(t, []string{"exchange"}, []string{testAgency})
	w.admin = w.clients("exchange").Admin()
	admin := w.admin
	ctx := testCtx(t)
	resp, err := admin.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: w.topic, NumPartitions: 3, ReplicationFactor: 1}}})
	if err != nil || resp.Errors[w.topic] != nil {
		t.Fatalf("creating %s: %v %v", w.topic, err, resp.Errors)
	}
	// IDENTITY.md: the owner agency may WRITE and DESCRIBE its ingress topic, nothing else.
	var acls []kafka.ACLEntry
	for _, op := range []kafka.ACLOperationType{kafka.ACLOperationTypeWrite, kafka.ACLOperationTypeDescribe} {
		acls = append(acls, kafka.ACLEntry{ResourceType: kafka.ResourceTypeTopic, ResourceName: w.topic,
			ResourcePatternType: kafka.PatternTypeLiteral, Principal: "User:" + testAgency, Host: "*",
			Operation: op, PermissionType: kafka.ACLPermissionTypeAllow})
	}
	aresp, err := admin.CreateACLs(ctx, &kafka.CreateACLsRequest{ACLs: acls})
	if err != nil {
		t.Fatalf("CreateACLs: %v", err)
	}
	for _, err := range aresp.Errors {
		if err != nil {
			t.Fatalf("CreateACLs: %v", err)
		}
	}
	return w
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	ctx := testCtx(w.t)
	conn := w.db
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// clients connects to the broker as user (SCRAM-SHA-512).
func (w *world) clients(user string) *kafkaclient.Clients {
	w.t.Helper()
	pw := w.broker.Password(w.t, user)
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: w.broker.Brokers,
		SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user}},
		kafkaclient.Getenv(func(k string) string {
			if k == kafkaclient.PasswordEnv {
				return pw
			}
			return ""
		}))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(kc.Close)
	return kc
}

func (w *world) config(mode string) Config {
	c := Config{Agency: testAgency, Mode: mode, Database: Database{URLEnv: "OUTBOX_TEST_URL"},
		KafkaCredentials: "unused.properties", BatchSize: 7, PollInterval: 20 * time.Millisecond}
	c.ApplyDefaults()
	return c
}

// connectorFor builds one instance of the connector, acting as the agency.
func (w *world) connectorFor(cfg Config) (*Connector, *prometheus.Registry) {
	w.t.Helper()
	reg := prometheus.NewRegistry()
	c, err := New(cfg, w.clients(testAgency), nil,
		WithRegisterer(reg),
		WithGetenv(func(string) string { return w.dbURL }),
		WithSchemaSource(func(_ context.Context, ds string) (*schemas.SchemaVersion, error) {
			if ds != testDataset {
				return nil, fmt.Errorf("no schema for %s", ds)
			}
			return w.schema, nil
		}))
	if err != nil {
		w.t.Fatal(err)
	}
	return c, reg
}

// consumed is every record of the ingress topic, in partition order.
type consumed struct {
	recordID string
	seq      int64
}

// readAll reads the topic to its end (as the exchange, the only reader of
// ingress.*), decoding each value with the schema.
func (w *world) readAll() map[int32][]consumed {
	w.t.Helper()
	ctx := testCtx(w.t)
	total := w.topicEnd()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.broker.Brokers...), kgo.ConsumeTopics(w.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SASL(scram.Auth{User: "exchange", Pass: w.broker.Password(w.t, "exchange")}.AsSha512Mechanism()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer cl.Close()
	got := map[int32][]consumed{}
	var n int64
	for n < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			w.t.Fatalf("read %d of %d records of %s: %v", n, total, w.topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			id, body, err := schemas.ParseFrame(r.Value)
			if err != nil || id != w.schema.ID {
				w.t.Fatalf("record %d/%d: frame %v, schema id %d", r.Partition, r.Offset, err, id)
			}
			var v struct {
				RecordID string `avro:"record_id"`
				Seq      int64  `avro:"seq"`
			}
			if err := avro.Unmarshal(w.schema.Avro, body, &v); err != nil {
				w.t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
			}
			if string(r.Key) != v.RecordID {
				w.t.Fatalf("record %d/%d: key %q, record_id %q", r.Partition, r.Offset, r.Key, v.RecordID)
			}
			got[r.Partition] = append(got[r.Partition], consumed{v.RecordID, v.Seq})
		})
	}
	return got
}

// TestOutboxRestartsAtLeastOnceInOrder inserts rows in transactions (many
// keys, several rows per key, some in one transaction, a few that do not
// fit) while connector instances are killed and restarted mid-stream, each
// right after Kafka acknowledged a batch and before its position was stored
// (the worst moment: it forces duplicates). Every row must reach the
// ingress topic at least once, in order per key, the bad ones must be in
// the dead-letter table, and the outbox must end empty.
func TestOutboxRestartsAtLeastOnceInOrder(t *testing.T) {
	for _, mode := range []string{ModePoll, ModeReplication} {
		t.Run(mode, func(t *testing.T) { testRestarts(t, mode) })
	}
}

const (
	faultKeys    = 12
	faultPerKey  = 30
	faultKills   = 4
	faultBadRows = 4 // 3 before the connector first runs, 1 mid-stream
)

func testRestarts(t *testing.T, mode string) {
	w := newWorld(t)
	slot := storetest.RandomName("outbox_test_")
	if mode == ModeReplication {
		t.Cleanup(func() { w.dropSlot(slot) }) // before the database is dropped
	}
	writers := w.startWriters()
	var mu sync.Mutex
	from := map[string]int{} // batches by where they came from
	count := func(src string) {
		mu.Lock()
		from[src]++
		mu.Unlock()
	}
	for i := 0; i < faultKills; i++ {
		w.runUntil(mode, slot, func(c *Connector, cancel context.CancelFunc) {
			batches := 0
			c.afterPublish = func(src string) {
				count(src)
				if mode == ModeReplication && src != "stream" {
					return // replication: kill the stream, not the drain at start
				}
				if batches++; batches == 3 {
					cancel() // killed after the acks, before the position is stored
				}
			}
		}, nil)
	}
	writers.Wait()
	w.runUntil(mode, slot, func(c *Connector, _ context.CancelFunc) { c.afterPublish = count },
		func() bool { return w.count("exchange_outbox") == 0 })
	t.Logf("batches published by source: %v", from)
	if mode == ModeReplication && from["stream"] == 0 {
		t.Fatalf("replication: no batch came through the slot (%v): the stream was not exercised", from)
	}
	f, line := w.report()
	if f.duplicates == 0 {
		t.Fatalf("%s: no duplicates although every instance was killed between the acks and the stored position: the kills did not happen", line)
	}
}

// startWriters inserts the test's rows: seq 0 of every key and the bad
// rows at once (before any connector ran: before the slot exists), the
// rest by one writer per key, 1 to 3 rows of the key per transaction.
func (w *world) startWriters() *sync.WaitGroup {
	for k := 0; k < faultKeys; k++ {
		w.insert(k, 0, 1)
	}
	w.exec(`INSERT INTO exchange_outbox (dataset, payload) VALUES
		($1, '{"record_id":"bad-1","seq":"not a number"}'), ($1, '{"record_id":"bad-2","seq":1,"extra":true}'),
		('tax.returns', '{"record_id":"foreign","seq":1}')`, testDataset)
	var writers sync.WaitGroup
	for k := 0; k < faultKeys; k++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for seq := 1; seq < faultPerKey; {
				n := min(1+seq%3, faultPerKey-seq)
				w.insert(k, seq, n)
				seq += n
				if k == 0 && seq > faultPerKey/2 && seq-n <= faultPerKey/2 {
					w.midStreamOddities()
				}
				time.Sleep(25 * time.Millisecond) // pace the writers so the kills land mid-stream
			}
		}()
	}
	return &writers
}

// midStreamOddities inserts, while the connectors run, a row that does
// not fit (a dead letter) and a row in a transaction that rolls back
// (never to be published: its seq would show up out of order).
func (w *world) midStreamOddities() {
	w.exec(`INSERT INTO exchange_outbox (dataset, payload) VALUES ($1, '{"record_id":"bad-3","seq":-1,"note":7}')`, testDataset)
	ctx := testCtx(w.t)
	tx, err := w.db.Begin(ctx)
	if err != nil {
		w.t.Error(err)
		return
	}
	if _, err := tx.Exec(ctx, `INSERT INTO exchange_outbox (dataset, payload) VALUES ($1, '{"record_id":"k-01","seq":999}')`, testDataset); err != nil {
		w.t.Error(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		w.t.Error(err)
	}
}

// report reads the topic, prints the fault figures and fails the test on
// a lost or misordered row or a wrong dead-letter table.
func (w *world) report() (figures, string) {
	f := w.check(w.readAll())
	line := fmt.Sprintf("sent %d, published %d, dead-lettered %d, duplicates %d, lost %d, out of order %d",
		f.sent, f.published, f.dead, f.duplicates, f.lost, f.outOfOrder)
	w.t.Logf("%s: %s", w.t.Name(), line)
	fmt.Printf("%s: %s\n", w.t.Name(), line)
	if f.lost != 0 || f.outOfOrder != 0 || f.dead != faultBadRows || len(f.errs) > 0 {
		w.t.Fatalf("%s; problems: %s", line, strings.Join(f.errs, "; "))
	}
	w.checkDeadLetters()
	return f, line
}

// insert writes rows seq..seq+n-1 of key k in one transaction.
func (w *world) insert(k, seq, n int) {
	ctx := testCtx(w.t)
	err := pgx.BeginFunc(ctx, w.db, func(tx pgx.Tx) error {
		for i := seq; i < seq+n; i++ {
			if _, err := tx.Exec(ctx, `INSERT INTO exchange_outbox (dataset, payload) VALUES ($1, $2)`,
				testDataset, fmt.Sprintf(`{"record_id":"k-%02d","seq":%d}`, k, i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.t.Errorf("inserting key %d rows %d..%d: %v", k, seq, seq+n-1, err)
	}
}

func (w *world) count(table string) int {
	w.t.Helper()
	ctx := testCtx(w.t)
	conn := w.db
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// runUntil runs one connector instance until arm's hook cancels it, or
// until done holds (polled), then stops it. A deadline fails the test.
func (w *world) runUntil(mode, slot string, arm func(*Connector, context.CancelFunc), done func() bool) {
	w.t.Helper()
	cfg := w.config(mode)
	cfg.Slot, cfg.Publication = slot, slot
	c, _ := w.connectorFor(cfg)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if arm != nil {
		arm(c, cancel)
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	deadline := time.After(90 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			if err != nil {
				w.t.Fatalf("Run: %v", err)
			}
			if ctx.Err() == nil {
				w.t.Fatal("Run returned before it was stopped")
			}
			return
		case <-tick.C:
			if done != nil && done() {
				cancel()
			}
		case <-deadline:
			w.t.Fatal("connector instance did not reach its stop condition in 90s")
		}
	}
}

// figures are what the fault test prints.
type figures struct {
	sent, published, dead, duplicates, lost, outOfOrder int
	errs                                                []string
}

// check compares the topic with the rows sent: each (key, seq) at least
// once, each key on one partition, and the first occurrences of a key's
// rows in seq order.
func (w *world) check(got map[int32][]consumed) figures {
	f := figures{sent: faultKeys*faultPerKey + faultBadRows, dead: w.count("exchange_outbox_dead")}
	partOf := map[string]int32{}
	next := map[string]int64{} // the next seq whose first occurrence is due
	seen := map[consumed]bool{}
	for p, recs := range got {
		for _, r := range recs {
			f.published++
			if q, ok := partOf[r.recordID]; ok && q != p {
				f.errs = append(f.errs, fmt.Sprintf("key %s on partitions %d and %d", r.recordID, q, p))
			}
			partOf[r.recordID] = p
			if seen[r] {
				f.duplicates++
				continue
			}
			seen[r] = true
			if r.seq != next[r.recordID] {
				f.outOfOrder++
				f.errs = append(f.errs, fmt.Sprintf("key %s: seq %d first seen where %d was due", r.recordID, r.seq, next[r.recordID]))
			}
			next[r.recordID] = max(next[r.recordID], r.seq+1)
		}
	}
	for k := 0; k < faultKeys; k++ {
		for s := 0; s < faultPerKey; s++ {
			if !seen[consumed{fmt.Sprintf("k-%02d", k), int64(s)}] {
				f.lost++
			}
		}
	}
	if len(seen) != faultKeys*faultPerKey {
		f.errs = append(f.errs, fmt.Sprintf("%d distinct records on the topic, want %d", len(seen), faultKeys*faultPerKey))
	}
	return f
}

// checkDeadLetters wants the four bad rows in the dead-letter table with
// errors that say what is wrong.
func (w *world) checkDeadLetters() {
	w.t.Helper()
	ctx := testCtx(w.t)
	conn := w.db
	rows, err := conn.Query(ctx, "SELECT payload->>'record_id', dataset, error FROM exchange_outbox_dead ORDER BY id")
	if err != nil {
		w.t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
		var v [3]string
		return v, r.Scan(&v[0], &v[1], &v[2])
	})
	if err != nil {
		w.t.Fatal(err)
	}
	want := [][3]string{
		{"bad-1", testDataset, `field "seq": expected long`},
		{"bad-2", testDataset, `"extra"`},
		{"foreign", "tax.returns", `dataset "tax.returns" is not a dataset of agency health`},
		{"bad-3", testDataset, `field "note"`},
	}
	if len(got) != len(want) {
		w.t.Fatalf("dead letters %q, want %d", got, len(want))
	}
	for i := range want {
		if got[i][0] != want[i][0] || got[i][1] != want[i][1] || !strings.Contains(got[i][2], want[i][2]) {
			w.t.Errorf("dead letter %d = %q, want %q and an error containing %q", i, got[i], want[i][:2], want[i][2])
		}
	}
}

// dropSlot drops the test's replication slot, waiting for the server to
// let go of it after the last connector stopped.
func (w *world) dropSlot(slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.dbURL)
	if err != nil {
		w.t.Errorf("dropping slot %s: %v", slot, err)
		return
	}
	defer conn.Close(ctx)
	for {
		_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			w.t.Errorf("dropping slot %s: %v", slot, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
