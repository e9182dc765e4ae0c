package faults

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestDatabaseOutage: a dedicated PostgreSQL is stopped mid-stream and
// started again. The SQL ledger is the asynchronous index of the audit
// topic: while the database is down deliveries and commits go on (every
// committed record's entry is in the audit topic: checked while it is
// down), the index's writes fail and its lag grows; once the database is
// back the index catches up, and every record has exactly one index entry,
// the chains verify and agree with the audit topic.
func TestDatabaseOutage(t *testing.T) {
	w, pg := newOutageWorld(t, "")
	mon := w.monitorOffsets()
	p := w.start("exchange")
	wr := w.publisher()
	const n = 10000 // 20 s of stream: it goes on through the outage
	done := w.stream(wr, goodMix, n, 50, 100*time.Millisecond)
	w.waitFor("some of the stream committed", 60*time.Second, func() bool { return w.committedTotal() >= 300 })
	pg.run(t, "down")
	downAt := time.Now()
	pub, out0, com0, fails0 := w.published(), w.outputs(), w.committedTotal(), p.sample(metricIndexFailures)
	var lag float64
	w.waitForState("deliveries and commits to go on while the index fails its writes and lags", 60*time.Second, func() (bool, string) {
		out, com, fails := w.outputs(), w.committedTotal(), p.sample(metricIndexFailures)
		lag = max(lag, p.sample(metricIndexLagSeconds))
		state := fmt.Sprintf("outputs %d → %d, committed %d → %d, failed index writes %.0f → %.0f, index lag %.1f s, workers paused %.0f; %s",
			out0, out, com0, com, fails0, fails, lag, p.sample(metricLedgerPaused), p.readiness())
		return out > out0 && com > com0 && fails >= fails0+3 && lag > 0, state
	})
	w.checkCommitted("PostgreSQL down")
	// Not only the batches under way when it went down: deliveries go on
	// while the index lag grows past what one batch explains.
	out1, com1 := w.outputs(), w.committedTotal()
	w.waitForState("deliveries and commits to go on as the index lag grows", 60*time.Second, func() (bool, string) {
		out, com := w.outputs(), w.committedTotal()
		lag = max(lag, p.sample(metricIndexLagSeconds))
		return out > out1 && com > com1 && lag >= 3, fmt.Sprintf("outputs %d → %d, committed %d → %d, index lag %.1f s, workers paused %.0f; %s",
			out1, out, com1, com, lag, p.sample(metricLedgerPaused), p.readiness())
	})
	outDown, comDown, fails := w.outputs()-out0, w.committedTotal()-com0, p.sample(metricIndexFailures)-fails0
	pg.run(t, "up")
	downFor := time.Since(downAt).Round(100 * time.Millisecond)
	t.Logf("PostgreSQL down for %v: %d records written to the delivery and quarantine topics and %d committed meanwhile; %.0f index writes failed; index lag reached %.1f s",
		downFor, outDown, comDown, fails, lag)
	if pub >= n {
		t.Errorf("the stream had ended before the outage (%d published): not a mid-stream outage", pub)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(90 * time.Second)
	w.waitFor("the index to write again", 60*time.Second, func() bool {
		v, ok := p.metric(metricIndexStoreFailing)
		return ok && v == 0
	})
	if !p.running() {
		t.Errorf("the exchange exited: %v", p.err)
	}
	w.report(w.verify(nil), mon, fmt.Sprintf("PostgreSQL stopped for %v mid-stream; meanwhile %d records delivered or quarantined and %d committed, %.0f index writes failed, index lag up to %.1f s",
		downFor, outDown, comDown, fails, lag))
}

// TestDatabaseOutagePastMaxIndexLag: the same outage with worker
// max_index_lag 3s. Once the index lags past it the workers pause
// (exchange_ledger_paused 1, /readyz fails audit_index): nothing more is
// written to the delivery and quarantine topics nor committed; what was
// committed is in the audit topic. Once PostgreSQL is back the index
// catches up, the workers resume, and everything completes.
func TestDatabaseOutagePastMaxIndexLag(t *testing.T) {
	w, pg := newOutageWorld(t, "worker: {max_index_lag: 3s}\n")
	w.pastMaxIndexLag("PostgreSQL stopped", func() { pg.run(t, "down") }, func() { pg.run(t, "up") })
}

// TestIndexStalledPastMaxIndexLag: max_index_lag 3s, and the index alone
// stalled — a transaction of the test holds the ledger tables locked
// (ACCESS EXCLUSIVE) while the rest of PostgreSQL answers (the agreement
// states the gate reads among it) — so the index lag bound is what pauses
// the workers; as TestDatabaseOutagePastMaxIndexLag otherwise.
func TestIndexStalledPastMaxIndexLag(t *testing.T) {
	w, pg := newOutageWorld(t, "worker: {max_index_lag: 3s}\n")
	var tx pgx.Tx
	lock := func() {
		conn, err := pgx.Connect(w.ctx, pg.url)
		if err != nil {
			t.Fatalf("connecting to PostgreSQL: %v", err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		if tx, err = conn.Begin(w.ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(w.ctx, "LOCK TABLE ledger_chains, ledger_entries IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatalf("locking the ledger tables: %v", err)
		}
	}
	unlock := func() {
		if err := tx.Rollback(w.ctx); err != nil {
			t.Fatalf("releasing the ledger tables: %v", err)
		}
	}
	w.pastMaxIndexLag("ledger tables locked", lock, unlock)
}

// pastMaxIndexLag streams records, stalls the index with stall, checks
// that the workers pause past max_index_lag (3s) and hold everything
// there, resumes it, and runs the full check.
func (w *world) pastMaxIndexLag(what string, stall, resume func()) {
	t := w.t
	mon := w.monitorOffsets()
	p := w.start("exchange")
	wr := w.publisher()
	const n = 8000
	done := w.stream(wr, goodMix, n, 50, 100*time.Millisecond)
	w.waitFor("some of the stream committed", 60*time.Second, func() bool { return w.committedTotal() >= 300 })
	stall()
	downAt := time.Now()
	w.waitForState("the workers to pause past max_index_lag", 60*time.Second, func() (bool, string) {
		paused := p.sample(metricLedgerPaused)
		return paused == 1, fmt.Sprintf("workers paused %.0f, index lag %.1f s, failed index writes %.0f; %s",
			paused, p.sample(metricIndexLagSeconds), p.sample(metricIndexFailures), p.readiness())
	})
	pausedAfter := time.Since(downAt).Round(100 * time.Millisecond)
	// A batch whose produce was under way when the pause began may still
	// complete; what follows must not move.
	time.Sleep(time.Second)
	out1, com1 := w.outputs(), w.committedTotal()
	time.Sleep(3 * time.Second) // an observation window, not a timing assertion
	if out2 := w.outputs(); out2 != out1 {
		t.Errorf("paused past max_index_lag, yet the delivery and quarantine topics went from %d to %d records", out1, out2)
	}
	if com2 := w.committedTotal(); com2 != com1 {
		t.Errorf("paused past max_index_lag, yet the committed offsets went from %d to %d", com1, com2)
	}
	if failing, ok := p.failingChecks(); !ok || !slices.Contains(failing, "audit_index") {
		t.Errorf("paused past max_index_lag: /readyz failing checks %v (answered %v), want audit_index among them", failing, ok)
	}
	held := w.heldBack(w.checkCommitted("paused past max_index_lag"))
	if held == 0 {
		t.Errorf("every ingress record committed while paused: the pause held nothing back")
	}
	resume()
	downFor := time.Since(downAt).Round(100 * time.Millisecond)
	w.waitFor("the workers to resume", 90*time.Second, func() bool {
		v, ok := p.metric(metricLedgerPaused)
		return ok && v == 0
	})
	t.Logf("%s for %v; workers paused %v after it began, %d ingress records held back", what, downFor, pausedAfter, held)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(90 * time.Second)
	if !p.running() {
		t.Errorf("the exchange exited: %v", p.err)
	}
	w.report(w.verify(nil), mon, fmt.Sprintf("%s for %v mid-stream with max_index_lag 3s; workers paused %v after it began, %d records held back meanwhile",
		what, downFor, pausedAfter, held))
}

// newOutageWorld is a scenario on a PostgreSQL of its own, every exchange
// process reading config as its exchange.yaml.
func newOutageWorld(t *testing.T, config string) (*world, *postgres) {
	t.Helper()
	needBinary(t)
	pg := startPostgres(t)
	return newWorld(t, worldOpts{dbURL: pg.url, config: config}), pg
}

// heldBack is how many ingress records lie beyond the committed offsets
// upTo.
func (w *world) heldBack(upTo map[int]int64) int64 {
	w.t.Helper()
	end, err := w.endOffsets(w.ingress)
	if err != nil {
		w.t.Fatal(err)
	}
	var n int64
	for part, e := range end {
		n += e - upTo[part]
	}
	return n
}

// postgres is a PostgreSQL server of this test alone, run by
// deploy/local/postgres.sh with its own state dir.
type postgres struct {
	state string
	url   string
}

func startPostgres(t *testing.T) *postgres {
	t.Helper()
	pg := &postgres{state: t.TempDir()}
	out, err := pg.script("start")
	if err != nil {
		t.Fatalf("PostgreSQL is required for the database outage scenario and could not be started by deploy/local/postgres.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := pg.script("stop"); err != nil {
			t.Errorf("stopping PostgreSQL: %v\n%s", err, out)
		}
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	pg.url = lines[len(lines)-1]
	if !strings.HasPrefix(pg.url, "postgres://") {
		t.Fatalf("deploy/local/postgres.sh start printed no URL:\n%s", out)
	}
	return pg
}

func (pg *postgres) run(t *testing.T, cmd string) {
	t.Helper()
	if out, err := pg.script(cmd); err != nil {
		t.Fatalf("postgres.sh %s: %v\n%s", cmd, err, out)
	}
}

// script runs deploy/local/postgres.sh with this server's state dir; stdout
// only is returned on success (the URL), both on failure.
func (pg *postgres) script(cmd string) (string, error) {
	return runLocalScript("postgres.sh", pg.state, cmd)
}
