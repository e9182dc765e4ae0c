package faults

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"
	"golang.org/x/crypto/bcrypt"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres" // postgres:// URLs
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"   // sqlite:// URLs
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
	"github.com/exchange-gov/exchange/schemas"
)

// partitions of every topic of a scenario.
const partitions = 3

// The example policy this package copies (deploy/examples), and the names
// in it that each scenario makes unique.
const (
	exDataset = "health.immunisations"
	exSocial  = "health-to-social-2026-001"
	exStats   = "health-to-statistics-2026-002"
)

// world is one scenario's exchange: a broker, a store, a copy of the example
// policy under unique dataset and agreement names, the exchange processes,
// the records published and what each should become.
type world struct {
	t   *testing.T
	ctx context.Context

	// Kafka.
	brokers   []string
	real      bool              // EXCHANGE_TEST_KAFKA_BROKERS
	broker    *devbroker.Broker // embedded broker, nil on real Kafka
	brokerDir string            // its data dir ("" = in memory)
	brokerMu  sync.Mutex        // guards broker across restarts
	transport *kafka.Transport  // shared by the test's clients
	client    *kafka.Client
	// With SASL and ACLs (worldOpts.sasl): the test's clients authenticate
	// as the exchange's user (a super user), the publisher as the dataset's
	// owner, and the exchange manages the ACLs.
	sasl         *kafkatest.SASLBroker
	dialer       *kafka.Dialer    // the test's readers; nil: kafka-go's default
	pubTransport *kafka.Transport // the publisher's

	// Names.
	suffix     string
	dataset    string
	social     string // agreement ids
	stats      string
	ingress    string
	quarantine string
	socialT    string // delivery topics
	statsT     string
	group      string

	dir      string // scratch
	policy   string // contracts dir the exchange reads
	dbURL    string
	config   string // exchange.yaml every process reads ("" = none)
	keyFile  string
	schemaID int
	schema   avro.Schema
	gen      *gen.Generator

	mu     sync.Mutex
	seq    int
	expect map[string]expectation // by record key
	acked  map[string]bool        // keys whose publish was acknowledged
	procs  []*proc
	// revocation is the phase of TestRevocationMidStream (notRevoked,
	// revoking, revoked); it changes the expectations of new records.
	revocation int
	// knownRegressions, when set, names a known runtime defect that makes
	// committed offsets go backwards in this scenario: regressions are
	// printed, loudly, instead of failing the test (see TestRebalanceStorm).
	knownRegressions string
}

type worldOpts struct {
	brokers      []string // an Apache Kafka of the scenario's own (real)
	embeddedOnly bool     // the scenario restarts the broker: never real Kafka
	// sasl: a broker enforcing SASL/SCRAM and ACLs, whose super user is the
	// exchange's user (kafkatest.Kfake, or the SASL Apache Kafka of make
	// test); the exchange runs with kafka.manage_acls.
	sasl       *kafkatest.SASLBroker
	persistent bool   // embedded broker with a data dir and synchronous writes
	dbURL      string // "" = a SQLite file in the scenario's temp dir
	// config is YAML every exchange process of the scenario reads as its
	// exchange.yaml (--config), e.g. "worker: {max_index_lag: 3s}"; the
	// harness's EXCHANGE_* variables override it. "" = no file.
	config string
}

// newWorld prepares a scenario: broker, topics, policy copy, store with the
// dataset's schema registered. Nothing runs the exchange yet (start does).
func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	w := &world{t: t, ctx: ctx, dir: t.TempDir(), expect: map[string]expectation{}, acked: map[string]bool{}}
	w.suffix = "f" + randHex(4)
	w.dataset = exDataset + "-" + w.suffix
	w.social = "health-to-social-" + w.suffix
	w.stats = "health-to-statistics-" + w.suffix
	w.ingress = names.Ingress(w.dataset)
	w.quarantine = names.Quarantine(w.dataset)
	w.socialT = names.Deliver("social-services", w.social)
	w.statsT = names.Deliver("statistics", w.stats)
	w.group = "exchange-" + w.suffix

	if o.sasl != nil {
		w.real, w.sasl, w.brokers = true, o.sasl, o.sasl.Brokers
	} else if len(o.brokers) > 0 {
		w.real = true
		w.brokers = o.brokers
	} else if b := os.Getenv("EXCHANGE_TEST_KAFKA_BROKERS"); b != "" && !o.embeddedOnly {
		w.real = true
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				w.brokers = append(w.brokers, s)
			}
		}
	} else {
		var opts []devbroker.Option
		if o.persistent {
			w.brokerDir = filepath.Join(w.dir, "broker")
			opts = append(opts, devbroker.DataDir(w.brokerDir), devbroker.SyncWrites())
		}
		b, err := devbroker.Start("127.0.0.1:0", opts...)
		if err != nil {
			t.Fatalf("starting the embedded broker: %v", err)
		}
		w.broker = b
		w.brokers = []string{b.Addr()}
		t.Cleanup(func() {
			w.brokerMu.Lock()
			defer w.brokerMu.Unlock()
			if w.broker != nil {
				w.broker.Close()
			}
		})
	}
	w.transport = &kafka.Transport{}
	w.pubTransport = w.transport
	if w.sasl != nil {
		w.authenticate()
	}
	w.client = &kafka.Client{Addr: kafka.TCP(w.brokers...), Timeout: 10 * time.Second, Transport: w.transport}
	t.Cleanup(w.transport.CloseIdleConnections)
	// The ingress topic exists before anything publishes; the exchange
	// creates the rest (and finds this one).
	w.createTopic(w.ingress)

	w.copyPolicy()
	w.keyFile = filepath.Join(w.dir, "secret.key")
	if err := os.WriteFile(w.keyFile, []byte(randHex(32)[:32]), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.config != "" {
		w.config = filepath.Join(w.dir, "exchange.yaml")
		if err := os.WriteFile(w.config, []byte(o.config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.dbURL = o.dbURL
	if w.dbURL == "" {
		w.dbURL = "sqlite://" + filepath.Join(w.dir, "exchange.db")
	}
	w.registerSchema()
	g, err := gen.New(w.schema, w.schemaID, gen.EventTime("administered_at"), gen.Seed(uint64(len(t.Name()))))
	if err != nil {
		t.Fatal(err)
	}
	w.gen = g
	return w
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// copyPolicy writes the agencies, the health.immunisations contract and its
// two agreements of deploy/examples under this scenario's names.
func (w *world) copyPolicy() {
	w.policy = filepath.Join(w.dir, "contracts")
	if err := os.MkdirAll(w.policy, 0o755); err != nil {
		w.t.Fatal(err)
	}
	rename := strings.NewReplacer(exDataset, w.dataset, exSocial, w.social, exStats, w.stats)
	for _, name := range []string{
		"agencies.yaml",
		"contract-" + exDataset + ".yaml",
		"agreement-" + exSocial + ".yaml",
		"agreement-" + exStats + ".yaml",
		"ingress." + exDataset + "-value.avsc",
	} {
		data, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "examples", name))
		if err != nil {
			w.t.Fatalf("reading the example policy: %v", err)
		}
		out := filepath.Join(w.policy, rename.Replace(name))
		if strings.HasSuffix(name, ".avsc") {
			out = filepath.Join(w.dir, rename.Replace(name)) // registered by the test, not read by serve
		}
		if err := os.WriteFile(out, []byte(rename.Replace(string(data))), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
}

// registerSchema registers the dataset's schema in the scenario's store, as
// a publisher would through /registry before the exchange starts (serve
// does not register *.avsc files).
func (w *world) registerSchema() {
	subject := "ingress." + w.dataset + "-value"
	text, err := os.ReadFile(filepath.Join(w.dir, subject+".avsc"))
	if err != nil {
		w.t.Fatal(err)
	}
	db, err := store.Open(w.ctx, w.dbURL)
	if err != nil {
		w.t.Fatalf("opening the store %s: %v", store.Redact(w.dbURL), err)
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	id, err := schemas.NewRegistry(db.Schemas(), schemas.WithLogger(quiet)).Register(w.ctx, subject, string(text))
	if err != nil {
		w.t.Fatalf("registering %s: %v", subject, err)
	}
	w.schemaID = id
	if w.schema, err = avro.Parse(string(text)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) createTopic(topic string) {
	w.t.Helper()
	err := poll(w.ctx, 30*time.Second, func() error {
		resp, err := w.client.CreateTopics(w.ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
			Topic: topic, NumPartitions: partitions, ReplicationFactor: 1,
		}}})
		if err != nil {
			return err
		}
		if e := resp.Errors[topic]; e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			return e
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("creating topic %s: %v", topic, err)
	}
}

// poll calls fn until it returns nil, ctx ends or timeout passes; it returns
// fn's last error then.
func poll(ctx context.Context, timeout time.Duration, fn func() error) error {
	return pollEvery(ctx, timeout, 10*time.Millisecond, fn)
}

// pollEvery is poll with a pause of every between calls (for conditions
// that cost several requests).
func pollEvery(ctx context.Context, timeout, every time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// waitForState polls cond until it holds; the test fails after timeout,
// with the state cond last described.
func (w *world) waitForState(what string, timeout time.Duration, cond func() (bool, string)) {
	w.t.Helper()
	var state string
	err := pollEvery(w.ctx, timeout, 200*time.Millisecond, func() error {
		var ok bool
		if ok, state = cond(); ok {
			return nil
		}
		return errors.New("not yet")
	})
	if err != nil {
		w.dumpLogs()
		w.t.Fatalf("timed out after %v waiting for %s; last: %s", timeout, what, state)
	}
	w.t.Logf("%s: %s", what, state)
}

// waitFor polls cond until it holds; the test fails after timeout.
func (w *world) waitFor(what string, timeout time.Duration, cond func() bool) {
	w.t.Helper()
	err := poll(w.ctx, timeout, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
	if err != nil {
		w.dumpLogs()
		w.t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// proc is one `exchange serve` process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // Wait's result, valid after done
}

// httpUsersFile writes (once) a Basic users file with one bcrypt'd user
// and returns its path.
func (w *world) httpUsersFile() string {
	w.t.Helper()
	path := filepath.Join(w.dir, "http-users")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("faults-"+w.group), bcrypt.MinCost)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("operator:"+string(hash)+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// start runs `exchange serve` on the scenario's policy, store and broker.
func (w *world) start(name string, env ...string) *proc {
	w.t.Helper()
	p := &proc{name: name, logPath: filepath.Join(w.dir, name+".log"), done: make(chan struct{})}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	// The policy's agreements start in force, as their files say (issue 13:
	// without seeding, a file's status is not proof and nothing delivers).
	args := []string{"serve", "--log-json=false", "--seed-from-files"}
	if w.sasl == nil {
		args = append(args, "--insecure")
	}
	if w.config != "" {
		args = append(args, "--config", w.config)
	}
	p.cmd = exec.Command(exchangeBin, args...)
	p.cmd.Env = append(os.Environ(),
		"EXCHANGE_KAFKA_BROKERS="+strings.Join(w.brokers, ","),
		"EXCHANGE_KAFKA_GROUP_ID="+w.group,
		fmt.Sprintf("EXCHANGE_KAFKA_PARTITIONS=%d", partitions),
		"EXCHANGE_KAFKA_REPLICATION_FACTOR=1",
		"EXCHANGE_DATABASE_URL="+w.dbURL,
		"EXCHANGE_HTTP_ADDR=127.0.0.1:0",
		"EXCHANGE_CONTRACTS_DIR="+w.policy,
		"EXCHANGE_KEY_FILE="+w.keyFile,
		"EXCHANGE_SIGNING_KEY_FILE="+filepath.Join(w.dir, "ledger.key"),
	)
	p.cmd.Env = append(p.cmd.Env, w.saslEnv()...)
	if w.sasl != nil {
		// Without --insecure, serve wants HTTP authentication as well: a
		// Basic users file the scenario never uses (it reads /readyz only).
		p.cmd.Env = append(p.cmd.Env, "EXCHANGE_AUTH_BASIC_USERS_FILE="+w.httpUsersFile())
	}
	p.cmd.Env = append(p.cmd.Env, env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		w.t.Fatalf("starting exchange serve: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	w.mu.Lock()
	w.procs = append(w.procs, p)
	w.mu.Unlock()
	w.t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && p.running() {
		t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// log returns the process's log so far.
func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// count is how many log lines of p contain s.
func (p *proc) count(s string) int { return strings.Count(p.log(), s) }

// dumpLogs writes the tail of every process log to the test log.
func (w *world) dumpLogs() {
	w.mu.Lock()
	procs := append([]*proc(nil), w.procs...)
	w.mu.Unlock()
	keep := os.Getenv("EXCHANGE_FAULTS_LOGS") // a dir to copy whole logs to
	for _, p := range procs {
		if keep != "" {
			dst := filepath.Join(keep, w.t.Name()+"-"+p.name+".log")
			if err := os.MkdirAll(keep, 0o755); err == nil {
				_ = os.WriteFile(dst, []byte(p.log()), 0o644)
			}
		}
		lines := strings.Split(strings.TrimSpace(p.log()), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		for i, l := range lines {
			if len(l) > 400 {
				lines[i] = l[:400] + " …"
			}
		}
		w.t.Logf("---- last lines of %s (%s)\n%s", p.name, p.logPath, strings.Join(lines, "\n"))
	}
}

var planLineRe = regexp.MustCompile(`plan reloaded.*version=(\S+)`)

// reloadedVersions lists the plan versions p logged as reloaded.
func (p *proc) reloadedVersions() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.log()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := planLineRe.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// waitIngressConsumed waits until the group's committed offsets reach the
// end of every ingress partition: everything published was processed.
func (w *world) waitIngressConsumed(timeout time.Duration) {
	w.t.Helper()
	w.waitFor("the exchange to commit every ingress record", timeout, func() bool {
		end, err := w.endOffsets(w.ingress)
		if err != nil {
			return false
		}
		com, err := w.committed()
		if err != nil {
			return false
		}
		for p, e := range end {
			if e > 0 && com[p] < e {
				return false
			}
		}
		return true
	})
}

// endOffsets returns the next offset of every partition of topic (one of
// the scenario's, with partitions partitions).
func (w *world) endOffsets(topic string) (map[int]int64, error) {
	return w.endOffsetsOf(topic, partitions)
}

// partitionCount is how many partitions topic has (0 when it does not
// exist). It asks ListOffsets of partitions up to maxProbe, not Metadata:
// kafka-go's Transport answers Metadata from its cache (refreshed every
// 6 s), which does not know topics the exchange created since.
func (w *world) partitionCount(topic string) (int, error) {
	const maxProbe = 32
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < maxProbe; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	resp, err := w.client.ListOffsets(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	n := 0
	for _, po := range resp.Topics[topic] {
		switch {
		case po.Error == nil:
			n = max(n, po.Partition+1)
		case !errors.Is(po.Error, kafka.UnknownTopicOrPartition):
			return 0, fmt.Errorf("partitions of %s: partition %d: %w", topic, po.Partition, po.Error)
		}
	}
	return n, nil
}

// endOffsetsOf returns the next offset of each of the n partitions of topic.
func (w *world) endOffsetsOf(topic string, n int) (map[int]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < n; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	resp, err := w.client.ListOffsets(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.LastOffset
	}
	if len(out) != n {
		return nil, fmt.Errorf("%s: %d partitions listed, want %d", topic, len(out), n)
	}
	return out, nil
}

// committed returns the group's committed offset of every ingress partition
// (-1 when none).
func (w *world) committed() (map[int]int64, error) {
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	resp, err := w.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: w.group, Topics: map[string][]int{w.ingress: {0, 1, 2}},
	})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[w.ingress] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.CommittedOffset
	}
	return out, nil
}

// offsetMonitor polls the group's committed offsets and records every
// regression (an offset lower than one seen before for the same partition).
type offsetMonitor struct {
	mu          sync.Mutex
	high        map[int]int64 // last committed offset seen per partition
	polls       int
	regressions []string
	stop        context.CancelFunc
	done        chan struct{}
}

func (w *world) monitorOffsets() *offsetMonitor {
	ctx, cancel := context.WithCancel(w.ctx)
	m := &offsetMonitor{high: map[int]int64{}, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			com, err := w.committed()
			if err != nil {
				continue // broker restarting, coordinator moving: try again
			}
			m.mu.Lock()
			m.polls++
			for p, off := range com {
				if off < 0 {
					continue // nothing committed yet (or not reported)
				}
				// A drop from the previous poll is one regression (the
				// following polls see the same lower value, not new ones).
				if prev, ok := m.high[p]; ok && off < prev {
					m.regressions = append(m.regressions, fmt.Sprintf("partition %d: committed offset went from %d to %d at %s", p, prev, off, time.Now().UTC().Format("15:04:05.000")))
				}
				m.high[p] = off
			}
			m.mu.Unlock()
		}
	}()
	w.t.Cleanup(func() { m.stop(); <-m.done })
	return m
}

// finish stops the monitor and returns its regressions and poll count.
func (m *offsetMonitor) finish() ([]string, int) {
	m.stop()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.regressions...), m.polls
}

var httpAddrRe = regexp.MustCompile(`exchange serving"? http=(\S+)`)

// get fetches path from p's HTTP server; ok is false when p is not
// serving yet or does not answer.
func (p *proc) get(path string) (body []byte, status int, ok bool) {
	m := httpAddrRe.FindStringSubmatch(p.log())
	if m == nil {
		return nil, 0, false
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + m[1] + path)
	if err != nil {
		return nil, 0, false
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, false
	}
	return body, resp.StatusCode, true
}

// metric sums the samples of a metric on p's /metrics (every label set;
// a name given with its labels, `name{l="v"}`, selects that sample); ok
// is false when p is not serving yet or does not answer.
func (p *proc) metric(name string) (float64, bool) {
	body, status, ok := p.get("/metrics")
	if !ok || status != http.StatusOK {
		return 0, false
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, true
}

// sample is metric's value, 0 when p does not answer.
func (p *proc) sample(name string) float64 {
	v, _ := p.metric(name)
	return v
}

// readiness describes p's /readyz for a failure message.
func (p *proc) readiness() string {
	failing, ok := p.failingChecks()
	switch {
	case !ok:
		return "/readyz not answering"
	case len(failing) == 0:
		return "/readyz ready"
	}
	return "/readyz failing " + strings.Join(failing, ", ")
}

// failingChecks lists the names of the /readyz checks p fails (nil when
// ready); ok is false when p does not answer.
func (p *proc) failingChecks() (names []string, ok bool) {
	body, _, ok := p.get("/readyz")
	if !ok {
		return nil, false
	}
	var r struct {
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, false
	}
	for _, c := range r.Checks {
		if !c.OK {
			names = append(names, c.Name)
		}
	}
	return names, true
}

// committedTotal is the sum of the group's committed ingress offsets (0
// when it cannot be read).
func (w *world) committedTotal() int64 {
	com, err := w.committed()
	if err != nil {
		return 0
	}
	var n int64
	for _, o := range com {
		n += max(o, 0)
	}
	return n
}

// indexDuplicates sums, over the running processes, the audit entries
// their indexers found already indexed (counted, not chained); a killed
// process's count is gone with it.
func (w *world) indexDuplicates() string {
	w.mu.Lock()
	procs := append([]*proc(nil), w.procs...)
	w.mu.Unlock()
	var sum float64
	n := 0
	for _, p := range procs {
		if !p.running() {
			continue
		}
		if v, ok := p.metric(metricIndexDuplicates); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return "none running"
	}
	return fmt.Sprintf("%.0f (%d processes)", sum, n)
}

// Metrics the scenarios read (exchange/indexer, the worker); a name with
// its labels selects that one sample (proc.metric).
const (
	metricIndexDuplicates   = `exchange_index_entries_total{result="duplicate"}`
	metricIndexStored       = `exchange_index_entries_total{result="stored"}`
	metricIndexFailures     = "exchange_index_write_failures_total"
	metricIndexStoreFailing = "exchange_index_store_failing"
	metricIndexLagSeconds   = "exchange_index_lag_seconds"
	metricLedgerPaused      = "exchange_ledger_paused"
)
