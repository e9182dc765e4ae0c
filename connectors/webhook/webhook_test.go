package webhook_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange/server/auth/authtest"
)

// commitWatch checks, again and again while a scenario runs, that no
// committed offset passes a delivery the receiver has not taken: every
// offset below a partition's committed offset must be taken. It reads the
// committed offsets first and the receiver's record second; the receiver
// records a delivery before it answers, and the connector commits only
// after the answer, so a commit it sees is always covered.
type commitWatch struct {
	once   sync.Once
	stopc  chan struct{}
	done   chan struct{}
	checks int
	errs   []string
}

func (w *world) watchCommits(r *receiver, ds []produced) *commitWatch {
	pos := map[int]map[int64]string{}
	for _, d := range ds {
		if pos[d.partition] == nil {
			pos[d.partition] = map[int64]string{}
		}
		pos[d.partition][d.offset] = d.id
	}
	cw := &commitWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(cw.done)
		for {
			select {
			case <-cw.stopc:
				return
			case <-time.After(10 * time.Millisecond):
			}
			committed := w.committed()
			taken := r.takenSet()
			cw.checks++
			for p, off := range committed {
				for o := int64(0); o < off; o++ {
					if id := pos[p][o]; taken[id] == 0 && len(cw.errs) < 20 {
						cw.errs = append(cw.errs, fmt.Sprintf("partition %d committed at %d, but offset %d (%s) was never taken", p, off, o, id))
					}
				}
			}
		}
	}()
	w.t.Cleanup(func() { cw.stop() })
	return cw
}

func (cw *commitWatch) stop() (checks int, errs []string) {
	cw.once.Do(func() { close(cw.stopc) })
	<-cw.done
	return cw.checks, cw.errs
}

// Against an HTTPS receiver that fails every way it can (500, 503, 429,
// 400, timeouts, connections closed) and then recovers but stays flaky
// (500s, answers lost after it took the delivery): every delivery arrives,
// every request's signature verifies, a delivery arrives twice only with
// the same Idempotency-Key and body, per-key order is kept, no offset is
// ever committed past a delivery not taken, and in the end every offset is
// committed.
func TestEveryDeliveryArrivesThroughFailures(t *testing.T) {
	w := newWorld(t)
	const n, keys = 60, 6
	ds := w.produce(n, keys, 0)
	outage := []action{fail500, hang, tooMany, hangUp, unavailable, reject400}
	r := newReceiver(t, w.secret, func(i int) action { return outage[(i-1)%len(outage)] })
	cw := w.watchCommits(r, ds)
	e := w.endpoint(r.srv.URL, caFile(t, r.srv))
	e.Timeout = time.Second
	stop := w.run(e)

	// The outage: every POST fails; nothing may be committed, and the
	// alert rises.
	waitFor(t, "two rounds of failed requests", time.Minute, func() bool { i, _ := r.counts(); return i >= 2*len(outage) })
	waitFor(t, "exchange_webhook_failing = 1", time.Minute, func() bool { return w.gauge("exchange_webhook_failing", "") == 1 })
	if c := w.committed(); len(c) > 0 {
		t.Fatalf("offsets %v committed while every POST failed", c)
	}
	if lag := w.lagSum(); lag <= 0 {
		t.Errorf("exchange_webhook_lag sums to %v during the outage, want > 0", lag)
	}

	// Recovery, flaky: every 5th request is taken but its answer lost
	// (timeout), every 5th+2 fails.
	r.setScript(func(i int) action {
		switch i % 5 {
		case 0:
			return acceptHang
		case 2:
			return fail500
		}
		return accept
	})
	waitFor(t, "every delivery taken", 2*time.Minute, func() bool { return len(r.takenSet()) == n })
	ends := w.ends()
	waitFor(t, "every offset committed", time.Minute, func() bool { return reflect.DeepEqual(w.committed(), ends) })
	stop()
	checks, errs := cw.stop()
	for _, e := range errs {
		t.Error(e)
	}
	if checks < 10 {
		t.Errorf("committed offsets checked only %d times", checks)
	}
	f := w.verifyArrivals(r, ds)
	requests, by := r.counts()
	report(t, "webhook through failures: %s; requests %d, failed %d (%v), commit checks %d", f, requests, requests-by[accept]-by[acceptHang], byName(by), checks)
	if f.lost != 0 || f.delivered != n {
		t.Errorf("lost %d, delivered %d of %d", f.lost, f.delivered, n)
	}
	if f.duplicates < by[acceptHang] {
		t.Errorf("%d duplicates, but %d answers were lost after the receiver took the delivery: each must be posted again", f.duplicates, by[acceptHang])
	}
	if g := w.gauge("exchange_webhook_failing", ""); g != 0 {
		t.Errorf("exchange_webhook_failing = %v after recovery, want 0", g)
	}
	if got := w.gauge("exchange_webhook_retries_total", ""); got < float64(2*len(outage)) {
		t.Errorf("exchange_webhook_retries_total = %v, want at least %d", got, 2*len(outage))
	}
}

// An endpoint down for the whole test: the partitions are held (lag), the
// failing alert is 1, nothing is committed, and every delivery is still on
// the topic for when the endpoint returns: nothing lost.
func TestEndpointDownHoldsEveryPartition(t *testing.T) {
	w := newWorld(t)
	const n = 30
	ds := w.produce(n, 5, 0)
	r := newReceiver(t, w.secret, func(int) action { return unavailable })
	logs := &logBuffer{}
	stop := w.runLogging(w.endpoint(r.srv.URL+"/hook?token=query-token-0042", caFile(t, r.srv)), slog.New(slog.NewTextHandler(logs, nil)))
	waitFor(t, "exchange_webhook_failing = 1", time.Minute, func() bool { return w.gauge("exchange_webhook_failing", "") == 1 })
	// Lag per partition: everything of it, as every first delivery is held.
	want := map[int]int{}
	for _, d := range ds {
		want[d.partition]++
	}
	waitFor(t, "lag of every partition = its deliveries", time.Minute, func() bool {
		for p, c := range want {
			if w.gauge("exchange_webhook_lag", strconv.Itoa(p)) != float64(c) {
				return false
			}
		}
		return true
	})
	waitFor(t, "retries", time.Minute, func() bool { i, _ := r.counts(); return i >= 3*partitions })
	if c := w.committed(); len(c) > 0 {
		t.Fatalf("offsets %v committed while the endpoint was down", c)
	}
	stop()
	if c := w.committed(); len(c) > 0 {
		t.Fatalf("offsets %v committed at shutdown while the endpoint was down", c)
	}
	// The logs say what failed, never a record's content, the secret or a
	// token in the URL.
	text := logs.String()
	if !strings.Contains(text, "delivery failed") {
		t.Errorf("no failure logged:\n%s", text)
	}
	for _, leak := range []string{"person-", "second", string(w.secret), "query-token-0042"} {
		if strings.Contains(text, leak) {
			t.Errorf("the logs contain %q", leak)
		}
	}
	held := len(w.readAll())
	requests, _ := r.counts()
	report(t, "webhook endpoint down: sent %d, delivered 0, held %d (uncommitted, on the topic), lost %d; %d POSTs answered 503", n, held, n-held, requests)
	if held != n || len(r.takenSet()) != 0 {
		t.Errorf("held %d of %d, taken %d", held, n, len(r.takenSet()))
	}
}

// A suspended or revoked agreement (the consumer's READ on its delivery
// topic removed) stops the webhook: a delivery the connector was retrying
// is not posted again, nothing is committed, the authorized gauge is 0;
// access restored, it resumes and delivers the rest.
func TestRevokedAgreementStopsPosting(t *testing.T) {
	w := newWorld(t)
	first := w.produce(12, 4, 0)
	r := newReceiver(t, w.secret, func(int) action { return accept })
	stop := w.run(w.endpoint(r.srv.URL, caFile(t, r.srv)))
	waitFor(t, "the first deliveries taken", time.Minute, func() bool { return len(r.takenSet()) == len(first) })

	// The endpoint fails the next ones: they are held and retried.
	r.setScript(func(int) action { return unavailable })
	before, _ := r.counts()
	all := w.produce(12, 4, 12)
	waitFor(t, "retries of the held deliveries", time.Minute, func() bool { i, _ := r.counts(); return i >= before+3 })

	w.revoke()
	waitFor(t, "exchange_webhook_authorized = 0", time.Minute, func() bool { return w.gauge("exchange_webhook_authorized", "") == 0 })
	// A POST already on its way when the probe saw the refusal may still
	// land: let it drain (the receiver still answers 503) before the
	// receiver would take anything.
	time.Sleep(3 * 100 * time.Millisecond)
	committed := w.committed()
	requests, _ := r.counts()
	r.setScript(func(int) action { return accept })
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if i, _ := r.counts(); i != requests {
			t.Fatalf("%d POSTs after the agreement lost its ACL", i-requests)
		}
	}
	if c := w.committed(); !reflect.DeepEqual(c, committed) {
		t.Fatalf("committed %v after the agreement lost its ACL, was %v", c, committed)
	}

	w.grant()
	waitFor(t, "exchange_webhook_authorized = 1", time.Minute, func() bool { return w.gauge("exchange_webhook_authorized", "") == 1 })
	waitFor(t, "every delivery taken after access returned", time.Minute, func() bool { return len(r.takenSet()) == len(all) })
	stop()
	f := w.verifyArrivals(r, all)
	report(t, "webhook revoked then restored: %s", f)
	if f.lost != 0 {
		t.Errorf("lost %d", f.lost)
	}
}

// figures are what each scenario prints, like the fault suite's.
type figures struct{ sent, delivered, duplicates, lost int }

func (f figures) String() string {
	return fmt.Sprintf("sent %d, delivered %d, duplicates %d (same Idempotency-Key), lost %d", f.sent, f.delivered, f.duplicates, f.lost)
}

// verifyArrivals checks what the receiver took against ds: every delivery
// taken, per-key order kept (a repeat follows its first arrival at once),
// and no problem seen by the receiver's own checks.
func (w *world) verifyArrivals(r *receiver, ds []produced) figures {
	t := w.t
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.problems {
		t.Error(p)
	}
	f := figures{sent: len(ds)}
	for _, d := range ds {
		if c := r.takenIDs[d.id]; c == 0 {
			f.lost++
			t.Errorf("delivery %s (partition %d offset %d) never arrived", d.id, d.partition, d.offset)
		} else {
			f.delivered++
			f.duplicates += c - 1
		}
	}
	seqs := map[string][]int{}
	for _, a := range r.taken {
		s := seqs[a.key]
		if len(s) > 0 && s[len(s)-1] == a.seq {
			continue // the same delivery again, right after itself
		}
		seqs[a.key] = append(s, a.seq)
	}
	want := map[string][]int{}
	for _, d := range ds {
		want[d.key] = append(want[d.key], d.seq)
	}
	for _, k := range sortedKeys(want) {
		if !reflect.DeepEqual(seqs[k], want[k]) {
			t.Errorf("key %s arrived in the order %v, want %v", k, seqs[k], want[k])
		}
	}
	return f
}

func (w *world) lagSum() float64 {
	sum := 0.0
	for p := 0; p < partitions; p++ {
		if v := w.gauge("exchange_webhook_lag", strconv.Itoa(p)); v > 0 {
			sum += v
		}
	}
	return sum
}

func byName(by map[action]int) map[string]int {
	out := map[string]int{}
	for a, c := range by {
		out[actionNames[a]] = c
	}
	return out
}

// mTLS: an endpoint that requires a client certificate refuses the
// connector without one (nothing taken, nothing committed) and takes every
// delivery once it presents one. The connector connects with the
// consumer's properties file, as exchange dev writes it (Kafka SASL and the
// registry's Basic credentials).
func TestMutualTLSWithPropertiesFile(t *testing.T) {
	w := newWorld(t)
	ds := w.produce(6, 3, 0)
	clientCA := authtest.NewCA(t, "social-services clients")
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.Cert)
	r := newReceiverTLS(t, w.secret, func(int) action { return accept }, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	e := w.endpoint(r.srv.URL, caFile(t, r.srv))
	// The registry's URL and Basic credentials come from the properties.
	e.Kafka, e.Properties, e.Registry = nil, w.properties(), webhook.Registry{CAFile: w.registryCA}

	stop := w.run(e)
	waitFor(t, "handshakes refused", time.Minute, func() bool { return w.counter("exchange_webhook_deliveries_total", "error") >= 3 })
	stop()
	if c := w.committed(); len(c) > 0 || len(r.takenSet()) > 0 {
		t.Fatalf("without a client certificate: committed %v, taken %d", c, len(r.takenSet()))
	}

	leaf := clientCA.Client(t, "social-services", nil, nil)
	e.TLS.CertFile = authtest.WriteFile(t, t.TempDir(), "client.pem", leaf.CertPEM)
	e.TLS.KeyFile = authtest.WriteFile(t, t.TempDir(), "client.key", leaf.KeyPEM)
	stop = w.run(e)
	waitFor(t, "every delivery taken", time.Minute, func() bool { return len(r.takenSet()) == len(ds) })
	ends := w.ends()
	waitFor(t, "every offset committed", time.Minute, func() bool { return reflect.DeepEqual(w.committed(), ends) })
	stop()
	f := w.verifyArrivals(r, ds)
	report(t, "webhook mTLS: %s", f)
}

// Two connectors run in the consumer group; one stops midway and the
// other takes over its partitions, if it had any, from their committed
// offsets: every delivery arrives, per-key order holds (a delivery the
// stopped member had posted but not committed arrives again, right after
// itself), and no commit passes a delivery not taken.
func TestGroupMembersHandOver(t *testing.T) {
	w := newWorld(t)
	const n = 60
	ds := w.produce(n, 6, 0)
	r := newReceiver(t, w.secret, func(i int) action {
		if i%4 == 0 {
			return fail500
		}
		return accept
	})
	cw := w.watchCommits(r, ds)
	e := w.endpoint(r.srv.URL, caFile(t, r.srv))
	stop1 := w.run(e)
	stop2 := w.run(e)
	waitFor(t, "a third of the deliveries taken", time.Minute, func() bool { return len(r.takenSet()) >= n/3 })
	stop1()
	waitFor(t, "every delivery taken", 2*time.Minute, func() bool { return len(r.takenSet()) == n })
	ends := w.ends()
	waitFor(t, "every offset committed", time.Minute, func() bool { return reflect.DeepEqual(w.committed(), ends) })
	stop2()
	_, errs := cw.stop()
	for _, e := range errs {
		t.Error(e)
	}
	f := w.verifyArrivals(r, ds)
	report(t, "webhook group hand-over: %s", f)
}

// report prints a scenario's figures line to the test log and to stdout,
// as the fault suite does, so CI output shows it without -v.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Logf("%s: %s", t.Name(), line)
	fmt.Printf("%s: %s\n", t.Name(), line)
}
