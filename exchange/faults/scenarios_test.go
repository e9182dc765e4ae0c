package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
	"github.com/exchange-gov/exchange/exchange/telemetry/otlptest"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/policy"
)

// failOnKnownRegression makes TestRebalanceStorm fail on committed-offset
// regressions (see its doc). True since the runtime commits through the
// generation each record was fetched under.
const failOnKnownRegression = true

// goodOnly is traffic that needs no quarantine.
func goodOnly(i int) kind {
	if i%2 == 0 {
		return goodNorth
	}
	return goodSouth
}

// TestBrokerRestart: the embedded broker is closed and started again on
// the same address and data dir mid-stream; the publisher retries until it
// is back; the exchange carries on without a restart of its own.
func TestBrokerRestart(t *testing.T) {
	w := newWorld(t, worldOpts{embeddedOnly: true, persistent: true})
	mon := w.monitorOffsets()
	p := w.start("exchange")
	wr := w.publisher()
	const n = 3000
	done := w.stream(wr, goodMix, n, 50, 50*time.Millisecond)
	w.waitFor("a third of the stream published and some of it committed", 60*time.Second, func() bool {
		return w.published() >= n/3 && w.committedTotal() > 0
	})
	w.restartBroker()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(75 * time.Second)
	if !p.running() {
		t.Errorf("the exchange exited during the broker restart: %v", p.err)
	}
	w.report(w.verify(nil), mon, "1 broker restart (embedded, same address and data dir, synchronous writes)")
}

// TestApacheKafkaCrash: an Apache Kafka broker of this test alone (started
// by deploy/local/kafka.sh) is killed with SIGKILL mid-stream and started
// again on the same port and log dir. It runs where the suite runs against
// Apache Kafka (EXCHANGE_TEST_KAFKA_BROKERS set, as make test does): the
// shared broker cannot be restarted under the other packages' tests.
func TestApacheKafkaCrash(t *testing.T) {
	if os.Getenv("EXCHANGE_TEST_KAFKA_BROKERS") == "" {
		t.Skip("EXCHANGE_TEST_KAFKA_BROKERS is not set: the suite runs on the embedded broker (TestBrokerRestart covers a restart there)")
	}
	needBinary(t)
	state := t.TempDir()
	out, err := runLocalScript("kafka.sh", state, "start")
	if err != nil {
		t.Fatalf("a dedicated Apache Kafka could not be started by deploy/local/kafka.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := runLocalScript("kafka.sh", state, "stop"); err != nil {
			t.Errorf("stopping the dedicated Apache Kafka: %v\n%s", err, out)
		}
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	broker := lines[len(lines)-1]
	w := newWorld(t, worldOpts{brokers: []string{broker}})
	mon := w.monitorOffsets()
	p := w.start("exchange")
	// The group forms after the broker's initial rebalance delay (3 s):
	// stream once the exchange is a member, so the crash falls mid-stream.
	w.waitFor("the exchange to join its group", 60*time.Second, func() bool {
		g, _ := p.metric("exchange_group_generations_total")
		return g >= 1
	})
	wr := w.publisher()
	const n = 3000
	done := w.stream(wr, goodMix, n, 50, 150*time.Millisecond)
	w.waitFor("a fifth of the stream committed", 60*time.Second, func() bool {
		return w.committedTotal() >= n/5
	})
	published, committed := w.published(), w.committedTotal()
	if out, err := runLocalScript("kafka.sh", state, "down", "--hard"); err != nil {
		t.Fatalf("kafka.sh down --hard: %v\n%s", err, out)
	}
	downAt := time.Now()
	time.Sleep(2 * time.Second)
	if out, err := runLocalScript("kafka.sh", state, "up"); err != nil {
		t.Fatalf("kafka.sh up: %v\n%s", err, out)
	}
	t.Logf("Apache Kafka %s killed with %d records published and %d committed, back after %v", broker, published, committed, time.Since(downAt).Round(100*time.Millisecond))
	if published >= n {
		t.Errorf("the stream had ended before the crash (%d published): not a mid-stream crash", published)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(90 * time.Second)
	if !p.running() {
		t.Errorf("the exchange exited during the broker crash: %v", p.err)
	}
	w.report(w.verify(nil), mon, "1 Apache Kafka crash (SIGKILL) and restart on the same port and log dir")
}

// restartBroker closes the embedded broker and starts it again on the same
// address and data dir.
func (w *world) restartBroker() {
	w.t.Helper()
	w.brokerMu.Lock()
	defer w.brokerMu.Unlock()
	addr := w.broker.Addr()
	w.broker.Close()
	w.broker = nil
	w.t.Logf("broker %s closed at %d records published", addr, w.published())
	var b *devbroker.Broker
	err := poll(w.ctx, 20*time.Second, func() error {
		var err error
		b, err = devbroker.Start(addr, devbroker.DataDir(w.brokerDir), devbroker.SyncWrites())
		return err
	})
	if err != nil {
		w.t.Fatalf("starting the broker again on %s: %v", addr, err)
	}
	w.broker = b
	w.t.Logf("broker %s started again", addr)
}

// TestKillAtRandomMoments: kill -9 of the exchange process at seeded random
// moments while records stream in and while it catches up; each time it
// is restarted. Deterministic kill points (after fetch, produce, ledger
// write, commit) need failpoints in the worker, which are not there yet.
func TestKillAtRandomMoments(t *testing.T) {
	w := newWorld(t, worldOpts{})
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EXCHANGE_FAULTS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewPCG(seed, seed>>3))
	t.Logf("kill moments seeded with EXCHANGE_FAULTS_SEED=%d", seed)
	mon := w.monitorOffsets()
	p := w.start("exchange-1")
	wr := w.publisher()
	// A steady stream (200 records/s for 40 s) while the exchange is killed
	// and restarted; each restart finds a backlog (the group waits for the
	// killed member's session to expire), so a kill shortly after the new
	// process's first commit lands in the middle of that backlog.
	const n, kills = 8000, 4
	done := w.stream(wr, goodMix, n, 20, 100*time.Millisecond)
	var moments []string
	inFlight := 0
	for k := 1; k <= kills; k++ {
		// The new process's first delivery write (it comes before the
		// ledger append and the commit of its batch), then a random moment.
		base := w.deliveredTotal()
		w.waitFor(fmt.Sprintf("deliveries before kill %d", k), 60*time.Second, func() bool { return w.deliveredTotal() > base })
		d := time.Duration(rng.IntN(100)) * time.Millisecond
		time.Sleep(d) // the random moment itself, not a synchronisation
		pub := w.published()
		p.kill(t)
		com := w.committedTotal()
		if com < int64(pub) {
			inFlight++
		}
		moments = append(moments, fmt.Sprintf("kill %d %v after the first delivery of exchange-%d (%d of %d committed)", k, d, k, com, pub))
		t.Log(moments[len(moments)-1])
		w.checkCommitted(fmt.Sprintf("after kill %d", k))
		p = w.start(fmt.Sprintf("exchange-%d", k+1))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(75 * time.Second)
	w.report(w.verify(nil), mon, fmt.Sprintf("%d kill -9 at random moments (seed %d), %d with records uncommitted: %s", kills, seed, inFlight, strings.Join(moments, "; ")))
}

// TestSigtermInFlight: SIGTERM while records stream in. The process exits
// within a generous liveness bound, and nothing is committed past what was
// delivered and audited; a restart finishes the rest.
func TestSigtermInFlight(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	// The first process exports its batch spans to a collector: the spans
	// of the batches it finishes while draining must be flushed on exit.
	col, err := otlptest.StartCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	p := w.start("exchange-1", "EXCHANGE_TRACING_OTLP_ENDPOINT="+col.Endpoint())
	wr := w.publisher()
	const n = 3000
	if err := w.publish(w.ctx, wr, goodMix, 0, 1000); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the first 1000 records committed", 60*time.Second, func() bool { return w.committedTotal() >= 1000 })
	// A burst, and SIGTERM as soon as it is acknowledged: the exchange is
	// in the middle of it.
	if err := w.publish(w.ctx, wr, goodMix, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	p.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	// A liveness bound, not a performance assertion: the shutdown deadline
	// of the worker is 10 s, of the HTTP server 10 s.
	const bound = 30 * time.Second
	select {
	case <-p.done:
	case <-time.After(bound):
		w.dumpLogs()
		t.Fatalf("exchange still running %v after SIGTERM", bound)
	}
	exited := time.Since(termAt).Round(100 * time.Millisecond)
	if p.err != nil {
		t.Errorf("exchange exited with %v after SIGTERM, want status 0", p.err)
	}
	upTo := w.checkCommitted("after SIGTERM")
	var committed int64
	for _, o := range upTo {
		committed += o
	}
	// Every committed record was in a batch whose span ended before the
	// commit's process exited; its span reached the collector.
	var traced int64
	for _, sp := range col.Spans() {
		if sp.Service != "exchange" || sp.Span.GetName() != "exchange.batch" {
			t.Errorf("exported span %q of service %q", sp.Span.GetName(), sp.Service)
			continue
		}
		n, err := strconv.ParseInt(sp.Attr("exchange.records"), 10, 64)
		if err != nil {
			t.Errorf("batch span without exchange.records: %v", sp.Span.GetAttributes())
		}
		traced += n
	}
	if traced < committed {
		t.Errorf("batch spans exported cover %d records, fewer than the %d committed before exit: spans lost at shutdown", traced, committed)
	}
	t.Logf("exported %d batch spans covering %d records (%d committed)", len(col.Spans()), traced, committed)
	w.start("exchange-2")
	if err := w.publish(w.ctx, wr, goodMix, 2000, n-2000); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(60 * time.Second)
	w.report(w.verify(nil), mon, fmt.Sprintf("SIGTERM right after a burst of 1000 records was acknowledged; exited in %v (bound %v) with %d of 2000 records committed", exited, bound, committed))
}

// TestRevocationMidStream: a steward revokes the social-services agreement
// (in the store) while records stream in. Records published after the
// exchange logged the reload are never delivered to it and are audited as
// skipped (revoked); records published before go either way, and their
// ledger entry says which. The workers' gate applies the revocation before
// the plan reloads, so a skip may carry the old plan version, but never a
// decision time before the revocation.
func TestRevocationMidStream(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	p := w.start("exchange")
	wr := w.publisher()
	const n = 3000
	done := w.stream(wr, goodMix, n, 50, 50*time.Millisecond)
	w.waitFor("some of the stream committed", 60*time.Second, func() bool { return w.committedTotal() >= 300 })
	before := len(p.reloadedVersions())
	revokedAt := w.beginRevocation()
	newPlan, boundary := w.revocationInForce(p, before)
	t.Logf("plan %s in force after %d records published", newPlan, boundary)

	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(60 * time.Second)
	f := w.verify(nil)
	// The ledger names the plan each decision was taken on.
	entries, _, err := w.readLedger()
	if err != nil {
		t.Fatal(err)
	}
	var deliveredSocial, skippedRevoked int
	for pos, es := range entries {
		for _, e := range es {
			for _, d := range e.delivered {
				if d == w.social {
					deliveredSocial++
					if e.planVersion == newPlan {
						t.Errorf("ingress %s: delivered to the revoked agreement under plan %s", pos, newPlan)
					}
				}
			}
			if e.skips[w.social] == policy.SkipRevoked {
				skippedRevoked++
				if e.decided.Before(revokedAt) {
					t.Errorf("ingress %s: skipped as revoked at %v, before the revocation (%v)", pos, e.decided, revokedAt)
				}
			}
		}
	}
	if deliveredSocial == 0 || skippedRevoked == 0 {
		t.Errorf("delivered to social services %d, skipped as revoked %d: the stream should straddle the revocation", deliveredSocial, skippedRevoked)
	}
	w.report(f, mon, fmt.Sprintf("revocation after %d records; delivered to the revoked agreement before it %d, skipped as revoked %d", boundary, deliveredSocial, skippedRevoked))
}

// beginRevocation revokes the social-services agreement, and returns
// when: from then on a record may be decided either way.
func (w *world) beginRevocation() time.Time {
	w.mu.Lock()
	w.revocation = revoking
	for k, e := range w.expect {
		w.expect[k] = w.revise(e)
	}
	w.mu.Unlock()
	w.revokeSocial()
	return time.Now()
}

// revocationInForce waits until p logs a plan reload beyond the first
// before (the revocation's), and returns that plan's version and how many
// records were published by then: later ones are decided on it.
func (w *world) revocationInForce(p *proc, before int) (plan string, boundary int) {
	w.t.Helper()
	w.waitFor("the exchange to reload the plan", 30*time.Second, func() bool { return len(p.reloadedVersions()) > before })
	plan = p.reloadedVersions()[before]
	w.mu.Lock()
	defer w.mu.Unlock()
	w.revocation = revoked
	return plan, w.seq
}

// Revocation phases of a world (w.revocation).
const (
	notRevoked = iota
	revoking   // the file is being edited; the reload not seen yet
	revoked    // the exchange logged the reload
)

// revise adapts an expectation made before the revocation to a record that
// may be decided after it.
func (w *world) revise(e expectation) expectation {
	if e.reason != "" {
		return e
	}
	var deliver []string
	for _, a := range e.deliver {
		if a == w.social {
			e.either = map[string]string{w.social: policy.SkipRevoked}
			continue
		}
		deliver = append(deliver, a)
	}
	e.deliver = deliver
	if r, ok := e.skip[w.social]; ok {
		e.skip = map[string]string{w.social: r + "|" + policy.SkipRevoked}
	}
	return e
}

// revokeSocial records a steward's revocation of the social-services
// agreement in the scenario's store (files cannot revoke: issue 13).
func (w *world) revokeSocial() {
	db, err := store.Open(w.ctx, w.dbURL, store.WithoutMigrate())
	if err != nil {
		w.t.Fatalf("opening the store %s: %v", store.Redact(w.dbURL), err)
	}
	defer db.Close()
	if _, err := db.AddTransition(w.ctx, store.Transition{AgreementID: w.social, From: agreements.StatusActive, To: agreements.StatusRevoked,
		By: "priya.raman", Reason: "Fault test: revoked mid-stream"}); err != nil {
		w.t.Fatalf("revoking %s: %v", w.social, err)
	}
}

// TestQuarantineTopicDeleted: the quarantine topic is deleted while the
// exchange runs, then records that need it arrive. The exchange cannot
// write their quarantine copies: it must not commit past them nor drop
// them. Once the topic is created again, everything completes.
func TestQuarantineTopicDeleted(t *testing.T) {
	w := newWorld(t, worldOpts{})
	mon := w.monitorOffsets()
	p := w.start("exchange")
	wr := w.publisher()
	if err := w.publish(w.ctx, wr, goodOnly, 0, 500); err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(60 * time.Second)
	resp, err := w.client.DeleteTopics(w.ctx, &kafka.DeleteTopicsRequest{Topics: []string{w.quarantine}})
	if err != nil {
		t.Fatalf("deleting %s: %v", w.quarantine, err)
	}
	if e := resp.Errors[w.quarantine]; e != nil {
		t.Fatalf("deleting %s: %v", w.quarantine, e)
	}
	// Deletion is asynchronous: a write the broker acknowledges before it
	// applies it is deleted with the topic. Only records published after
	// the broker no longer knows the topic can be held to the checker.
	w.waitFor("the broker to apply the deletion", 30*time.Second, func() bool {
		md, err := w.client.Metadata(w.ctx, &kafka.MetadataRequest{Topics: []string{w.quarantine}})
		if err != nil {
			return false
		}
		for _, tp := range md.Topics {
			if tp.Name == w.quarantine && tp.Error == nil {
				return false
			}
		}
		return true
	})
	t.Logf("%s deleted", w.quarantine)
	retries0, _ := p.metric("exchange_produce_retries_total")
	if err := w.publish(w.ctx, wr, goodMix, 500, 1000); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the exchange to retry its quarantine writes", 60*time.Second, func() bool {
		r, ok := p.metric("exchange_produce_retries_total")
		return ok && r >= retries0+3
	})
	upTo := w.checkCommitted("quarantine topic missing")
	end, err := w.endOffsets(w.ingress)
	if err != nil {
		t.Fatal(err)
	}
	var blocked int64
	for part, e := range end {
		blocked += e - upTo[part]
	}
	if blocked == 0 {
		t.Errorf("every ingress record committed although the quarantine topic is missing")
	}
	t.Logf("%d ingress records uncommitted while the quarantine topic is missing", blocked)
	w.createTopic(w.quarantine)
	w.waitIngressConsumed(75 * time.Second)
	if !p.running() {
		t.Errorf("the exchange exited: %v", p.err)
	}
	w.report(w.verify(nil), mon, fmt.Sprintf("quarantine topic deleted and recreated; %d records held uncommitted meanwhile", blocked))
}

// TestRebalanceStorm: instances join and leave (1 → 3 → 1) while records
// stream in; one of them is stopped (SIGSTOP) past its session timeout —
// between the ledger append and the commit of a batch, through a failpoint
// — and then resumed.
//
// Defect found by this test (2026-11-27), fixed since: when the paused
// member resumed, the commit of a batch it finished under its old
// generation could reach kafka-go's group Reader commit loop of its new
// generation (the Reader's commit queue outlives generations), and the
// group's committed offset of that partition went back to where the paused
// member was (e.g. 1324 → 157; kafka-go #1308). The worker now consumes
// through kafka.ConsumerGroup and commits each record only through the
// generation it was fetched under (Generation.CommitOffsets, refused by the
// broker once that generation is over). Committed offsets must never go
// backwards: the scenario fails on any regression (failOnKnownRegression).
func TestRebalanceStorm(t *testing.T) {
	w := newWorld(t, worldOpts{})
	if !failOnKnownRegression {
		w.knownRegressions = "stale-generation commit after a paused member resumes, kafka-go #1308"
	}
	mon := w.monitorOffsets()
	a := w.start("exchange-a")
	wr := w.publisher()
	const n = 4000
	done := w.stream(wr, goodMix, n, 40, 100*time.Millisecond)
	gens := func(p *proc) float64 { v, _ := p.metric("exchange_group_generations_total"); return v }
	in := func(p *proc) float64 { v, _ := p.metric("exchange_records_in_total"); return v }
	w.waitFor("a to commit", 60*time.Second, func() bool { return w.committedTotal() > 0 })
	g0 := gens(a)
	c := w.start("exchange-c")
	w.waitFor("c to join the group", 60*time.Second, func() bool { return gens(c) >= 1 && gens(a) > g0 })
	// b holds its worker after the ledger append of its third batch, before
	// that batch's commit (failpoint pause), and the test stops the whole
	// process right there, past its session timeout (10 s): the group must
	// evict it and hand its partitions to a and c; when b resumes, its
	// commit belongs to a generation that is gone.
	b := w.start("exchange-b", "EXCHANGE_FAILPOINT=after_ledger:3:pause")
	w.waitFor("b to reach the commit of its third batch", 60*time.Second, func() bool { return b.count("failpoint after_ledger paused") > 0 })
	b.signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	ga := gens(a)
	w.waitFor("a new generation without b", 60*time.Second, func() bool { return gens(a) > ga })
	t.Logf("b evicted %v after SIGSTOP", time.Since(stopped).Round(time.Second))
	b.signal(t, syscall.SIGCONT)
	w.waitFor("b to rejoin", 60*time.Second, func() bool { return gens(b) >= 2 })
	// 3 → 1: b and c leave.
	inB, inC := in(b), in(c)
	b.signal(t, syscall.SIGTERM)
	c.signal(t, syscall.SIGTERM)
	for _, p := range []*proc{b, c} {
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30s after SIGTERM", p.name)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(75 * time.Second)
	w.report(w.verify(nil), mon, fmt.Sprintf("1 → 3 → 1 instances, one stopped past its session timeout; records in: a %.0f, b %.0f, c %.0f; generations joined by a %.0f",
		in(a), inB, inC, gens(a)))
}

// deliveredTotal is the number of records in the statistics delivery topic
// (0 when it cannot be read).
func (w *world) deliveredTotal() int64 {
	end, err := w.endOffsets(w.statsT)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range end {
		n += e
	}
	return n
}

// outputs is the number of records in the delivery and quarantine topics.
func (w *world) outputs() int64 {
	var n int64
	for _, topic := range []string{w.socialT, w.statsT, w.quarantine} {
		end, err := w.endOffsets(topic)
		if err != nil {
			w.t.Fatalf("%s: %v", topic, err)
		}
		for _, e := range end {
			n += e
		}
	}
	return n
}

// runLocalScript runs deploy/local/<name> cmd... with EXCHANGE_LOCAL_STATE
// set to state; stdout only is returned on success, both on failure.
func runLocalScript(name, state string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(repoRoot, "deploy", "local", name)}, args...)...)
	c.Env = append(os.Environ(), "EXCHANGE_LOCAL_STATE="+state)
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			return string(out) + stderr.String(), err
		}
		return stderr.String(), err
	}
	return string(out), nil
}
