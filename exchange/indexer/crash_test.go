package indexer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// The environment of the indexer process TestKilledIndexerRecovers starts.
const (
	envHelper        = "EXCHANGE_INDEXER_TEST_HELPER"
	envHelperBrokers = "EXCHANGE_INDEXER_TEST_BROKERS"
	envHelperDB      = "EXCHANGE_INDEXER_TEST_DB"
)

// TestHelperIndexer is not a test: it is the indexer process of
// TestKilledIndexerRecovers, run only when envHelper is set.
func TestHelperIndexer(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("helper process of TestKilledIndexerRecovers")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, os.Getenv(envHelperDB))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	defer db.Close()
	// One writer: each batch is one Index call and one COPY, so the second
	// hit of a failpoint is in the second batch, after the first committed
	// (with two writers a batch over two chains makes two COPYs at once).
	cfg := testConfig(Config{Kafka: kafkaclient.Config{Brokers: strings.Split(os.Getenv(envHelperBrokers), ",")}, MaxBatchEntries: 1000, Writers: 1})
	ix, err := New(cfg, db.(ledger.Index), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// An indexer process killed (SIGKILL) at a failpoint — after an index
// write committed but before its offsets were (after_index), or with half
// of a COPY sent to PostgreSQL (index_mid_copy) — leaves an index that a
// restarted indexer completes: every entry once, chains that verify. After
// after_index the re-read batch is counted as duplicates; after
// index_mid_copy nothing of the killed write was stored.
func TestKilledIndexerRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts indexer processes")
	}
	for _, point := range []string{"after_index", "index_mid_copy"} {
		t.Run(point, func(t *testing.T) {
			backends(t, func(t *testing.T, e *env) {
				if point == "index_mid_copy" && !strings.HasPrefix(e.dbURL, "postgres") {
					t.Skip("the COPY is PostgreSQL's")
				}
				testKilledIndexer(t, e, point)
			})
		})
	}
}

func testKilledIndexer(t *testing.T, e *env, point string) {
	const total = 5000
	for c := int32(0); c < 5; c++ {
		e.publish(entries(source, c, 0, total/5), 200)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIndexer$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"=1", envHelperBrokers+"="+strings.Join(e.brokers, ","),
		envHelperDB+"="+e.dbURL, "EXCHANGE_FAILPOINT="+point+":2")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the indexer process was not killed at %s (%v):\n%s", point, err, out)
	}

	r := e.start(nil)
	e.caughtUp()
	if got := e.verify(); got != total {
		t.Fatalf("index holds %d entries after the restart, want %d", got, total)
	}
	stored, dups := testutil.ToFloat64(r.metrics.stored), testutil.ToFloat64(r.metrics.duplicates)
	if stored >= total {
		t.Errorf("the restarted indexer stored all %v entries: the killed one committed nothing", stored)
	}
	switch point {
	case "after_index":
		if dups == 0 {
			t.Error("the restarted indexer found no duplicates: the batch written before the kill was not re-read")
		}
	case "index_mid_copy":
		if dups != 0 {
			t.Errorf("the restarted indexer found %v duplicates: part of the killed COPY was stored", dups)
		}
	}
}
