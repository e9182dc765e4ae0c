package exchange

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/store/sqlite"
)

// The crash test re-executes the test binary as a worker process
// (TestHelperWorker) and kills it with SIGKILL: no deferred function, no
// final commit, no graceful anything.
const (
	envHelper        = "EXCHANGE_TEST_HELPER_WORKER"
	envHelperBrokers = "EXCHANGE_TEST_HELPER_BROKERS"
	envHelperSuffix  = "EXCHANGE_TEST_HELPER_SUFFIX"
	envHelperLedger  = "EXCHANGE_TEST_HELPER_LEDGER"
	envHelperReal    = "EXCHANGE_TEST_HELPER_REAL"
)

// TestHelperWorker is not a test: it is the worker process of
// TestCrashRecovery, run only when envHelper is set.
func TestHelperWorker(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process of TestCrashRecovery")
	}
	k := &testKafka{brokers: strings.Split(os.Getenv(envHelperBrokers), ","), real: os.Getenv(envHelperReal) == "1"}
	m := mechanicsWorld(t, k, os.Getenv(envHelperSuffix))
	cfg := WorkerConfig{Kafka: kafkaAt(k.brokers, m.group), Tuning: Tuning{MaxBatchRecords: 50, Linger: time.Millisecond}}
	cfg.Kafka.Partitions = 3
	k.groupTimings(&cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// The embedded SQLite ledger store of the dev mode: it must survive kill -9.
	db, err := sqlite.Open(ctx, "sqlite://"+os.Getenv(envHelperLedger), store.NewConfig())
	if err != nil {
		t.Fatalf("opening the ledger: %v", err)
	}
	defer db.Close()
	// The process's audit indexer: a SIGKILL takes it down with the worker.
	go func() { _ = newTestIndexer(t, k.brokers, m.group, db).Run(ctx) }()
	w, err := NewWorker(cfg, m.plans, db, WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	if err := w.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestCrashRecovery: a worker process (worker and audit indexer) dies by
// SIGKILL while records stream in — killed from outside at an arbitrary
// point, or killing itself right after a batch was produced with its audit
// entries (after_produce) or right before its commit (after_ledger) — is
// restarted, and killed again once caught up and indexed. Every record is delivered to every agreement at least once, all copies
// of one record carry the same delivery id, and the SQLite ledger holds
// exactly one entry for every record, in hash chains that verify.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	for _, at := range []string{"external", "after_produce", "after_ledger"} {
		t.Run(at, func(t *testing.T) { testCrashRecovery(t, at) })
	}
}

func testCrashRecovery(t *testing.T, at string) {
	// The worker processes index their own ledger: no indexer here.
	k := startKafka(t)
	m := mechanicsWorld(t, k, suffix())
	k.ensure(t, 3, Topics(m.plan)...)
	k.ensureAudit(t, m.group, 3)
	dir := t.TempDir()
	ledgerPath := filepath.Join(dir, "ledger.db")
	start := func(n int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorker$", "-test.count=1")
		real := "0"
		if m.k.real {
			real = "1"
		}
		cmd.Env = append(os.Environ(), envHelper+"=1", envHelperBrokers+"="+strings.Join(m.k.brokers, ","),
			envHelperSuffix+"="+m.suffix, envHelperLedger+"="+ledgerPath, envHelperReal+"="+real)
		if n == 1 && at != "external" {
			// SIGKILL at a fixed point of the 7th batch (package failpoint).
			cmd.Env = append(cmd.Env, "EXCHANGE_FAILPOINT="+at+":7")
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("worker-%d.log", n)))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting worker process: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			logf.Close()
		})
		return cmd
	}
	entries := func() int {
		n, err := countLedger(t.Context(), ledgerPath, nil)
		if err != nil {
			return 0 // not created yet
		}
		return n
	}

	const chunks, per = 20, 100
	p1 := start(1)
	published := make(chan error, 1)
	go func() {
		for i := 0; i < chunks; i++ {
			if err := m.k.publishErr(m.records(per, i*per)...); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	if at == "external" {
		waitFor(t, 60*time.Second, "the first worker to audit 300 records", func() bool { return entries() >= 300 })
		if err := p1.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9: %v", err)
		}
	}
	werr := p1.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("first worker ended with %v, want death by SIGKILL", werr)
	}
	atKill := entries()

	p2 := start(2)
	if err := <-published; err != nil {
		t.Fatalf("publishing: %v", err)
	}
	total := chunks * per
	m.k.waitCaughtUp(t, m.group, 120*time.Second, m.ingress)
	// The index is one entry per position: complete when it counts them all.
	waitFor(t, 120*time.Second, "the second process to index every record", func() bool { return entries() >= chunks*per })
	_ = p2.Process.Signal(syscall.SIGKILL)
	_ = p2.Wait()

	end, err := m.k.endOffsets(t.Context(), m.ingress)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for p, e := range end {
		for off := int64(0); off < e; off++ {
			sources = append(sources, m.ingress+"/"+strconv.Itoa(p)+"/"+strconv.FormatInt(off, 10))
		}
	}
	if len(sources) != total {
		t.Fatalf("ingress holds %d records, want %d", len(sources), total)
	}
	dups := 0
	for _, topic := range []string{m.topicA, m.topicB} {
		copies := map[string][]kafka.Message{}
		for _, d := range m.k.readAll(t, topic) {
			src, _ := header(d, HeaderSource)
			copies[src] = append(copies[src], d)
		}
		for _, src := range sources {
			cs := copies[src]
			if len(cs) == 0 {
				t.Errorf("%s: record %s lost", topic, src)
				continue
			}
			dups += len(cs) - 1
			id0, _ := header(cs[0], HeaderDeliveryID)
			for _, c := range cs[1:] {
				if id, _ := header(c, HeaderDeliveryID); id != id0 {
					t.Errorf("%s: copies of %s carry delivery ids %s and %s", topic, src, id0, id)
				}
			}
		}
	}
	audited := map[string]int{}
	n, err := countLedger(t.Context(), ledgerPath, func(e *ledger.Entry) {
		audited[entryKey(e.Topic, e.Partition, e.Offset)]++
	})
	if err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	for _, src := range sources {
		parts := strings.Split(src, "/")
		p, _ := strconv.Atoi(parts[1])
		off, _ := strconv.ParseInt(parts[2], 10, 64)
		if c := audited[entryKey(m.ingress, int32(p), off)]; c != 1 {
			t.Errorf("%d ledger entries for %s, want exactly 1", c, src)
		}
	}
	db, err := sqlite.Open(t.Context(), "sqlite://"+ledgerPath, store.NewConfig(store.WithoutMigrate()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := ledger.Verify(t.Context(), db, ledger.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Errorf("ledger verification after kill -9: %+v, %v", rep, err)
	}
	if at != "external" && dups == 0 {
		t.Errorf("no duplicate deliveries after a crash %s: the crash point was not exercised", at)
	}
	t.Logf("crash %s: records %d; first worker died after auditing %d; duplicate deliveries %d (all with the same delivery id); ledger entries %d",
		at, total, atKill, dups, n)
}

// countLedger counts the entries of the SQLite ledger at path, calling fn
// (when not nil) with each.
func countLedger(ctx context.Context, path string, fn func(*ledger.Entry)) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := sqlite.Open(ctx, "sqlite://"+path, store.NewConfig(store.WithoutMigrate()))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	chains, err := db.Chains(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range chains {
		err := db.ChainEntries(ctx, c, func(e *ledger.Entry) error {
			n++
			if fn != nil {
				fn(e)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// publishErr is publish for goroutines other than the test's.
func (k *testKafka) publishErr(msgs ...kafka.Message) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(k.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, BatchSize: 1000, Transport: k.transport,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.WriteMessages(ctx, msgs...)
}
