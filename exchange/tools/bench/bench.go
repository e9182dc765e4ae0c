// Package bench is `exchange bench`: it publishes N reference records (the
// 15-field immunisation record, ~5% invalid) to an ingress topic, runs the
// exchange on them with the reference policy, and in the same run measures
// two raw pass-throughs (group consume → produce → commit, no policy) of the
// same records on the same broker: one with kafka-go, the exchange's client,
// and one with franz-go, tuned as well as it allows, so the ratios are the
// cost of the policy broker itself and nobody tunes against a soft baseline.
// The exchange is timed to its last committed offset and to the moment its
// SQL ledger holds an entry for every record (the audit index caught up).
package bench

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
)

//go:embed policy
var policyFS embed.FS

// Dataset is the reference dataset; Agreement its one reference agreement.
const (
	Dataset   = "health.immunisations"
	Agreement = "bench-health-to-social"
	Consumer  = "social-services"
)

// Config configures a run. Zero values take the documented defaults.
type Config struct {
	Records     int      // records published; default 1,000,000
	Brokers     []string // Kafka cluster; default: an embedded broker
	DatabaseURL string   // store of the exchange; default: SQLite in a temp dir
	Partitions  int      // of the ingress topic; default 3
	// Processes is how many exchange instances run, in this process, as
	// members of one worker group on one store (scale-out overhead on one
	// machine). Default 1.
	Processes int
	// SASL makes the embedded broker authenticate every connection with
	// SCRAM-SHA-512 and check ACLs; every client of the run (publisher,
	// both raw relays, exchange) signs in as its super user, so every
	// contestant pays the same handshakes. Only with the embedded broker.
	// Default off.
	SASL bool
	// LatencyRates are the publish rates of the latency probes run after
	// the throughput runs, to measure publish → delivery latency. Default
	// 1,000 rec/s and half the exchange's measured rate to index caught up.
	LatencyRates []LatencyRate
	// LatencyRecords is how many records the probe at 1,000 rec/s
	// publishes (default 3000); every probe runs as long as that one.
	LatencyRecords int
	// Tuning tunes the exchange's workers (exchange.yaml's worker block),
	// e.g. ProduceCompression; zero values take the defaults.
	Tuning  exchange.Tuning
	Timeout time.Duration // bound of each phase; default 10 min
	Out     io.Writer     // progress and results; default os.Stdout
	// OnExchangePhase, when set, is called with true as the exchange starts
	// on the published records and with false once it has caught up (to
	// profile that phase alone).
	OnExchangePhase func(start bool)
}

// Throughput is one measured run.
type Throughput struct {
	Records int64 // moved in the run
	Bytes   int64
	// Timed are the records the rate is computed over: those committed
	// after the first commit, in Elapsed (see commits.throughput).
	Timed     int64
	Elapsed   time.Duration
	RecPerSec float64
	MBPerSec  float64
}

// Result is what a benchmark run measured.
type Result struct {
	Raw      Throughput // kafka-go pass-through
	RawFranz Throughput // franz-go pass-through
	// Exchange is the exchange until its ledger index caught up (every
	// published position has an entry), ExchangeCommit until it committed
	// its last offset; both are timed from its first commit.
	Exchange, ExchangeCommit Throughput
	Latency                  []Latency     // one per LatencyRates, in order
	P50, P99                 time.Duration // of the first latency probe
	LatencyN                 int           // delivered records of the first probe
	Ratio                    float64       // Exchange.RecPerSec / Raw.RecPerSec
	RatioFranz               float64       // Exchange.RecPerSec / RawFranz.RecPerSec
	RatioCommit              float64       // ExchangeCommit.RecPerSec / Raw.RecPerSec
}

func (cfg *Config) setDefaults() {
	if cfg.Records <= 0 {
		cfg.Records = 1_000_000
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	if cfg.Processes <= 0 {
		cfg.Processes = 1
	}
	if cfg.LatencyRecords <= 0 {
		cfg.LatencyRecords = 3000
	}
	if len(cfg.LatencyRates) == 0 {
		cfg.LatencyRates = DefaultLatencyRates()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
}

// run is one benchmark run: the exchange assembled on the reference policy,
// the bench's own Kafka clients, and the positions both contestants read
// between.
type run struct {
	cfg      Config
	app      *app.App             // the first of apps: its store, registry and topics are every process's
	apps     []*app.App           // the exchange processes, one worker group
	kc       *kafkaclient.Clients // the bench's publishers, raw relay and offset queries
	admin    *kafka.Client
	gen      *gen.Generator
	ingress  string
	rawOut   string // topic of the kafka-go raw pass-through
	franzOut string // topic of the franz-go raw pass-through
	conn     kafkaclient.Config
	parts    map[string]int // partitions of each topic of the run
	nonce    string         // suffix of this run's consumer groups
	starts   map[int]int64
	ends     map[int]int64
	avgBytes float64 // mean published value size
}

func (r *run) rawGroup() string      { return "bench-raw-" + r.nonce }
func (r *run) franzGroup() string    { return "bench-raw-franz-" + r.nonce }
func (r *run) exchangeGroup() string { return "exchange-bench-" + r.nonce }

// Run executes the benchmark: publish, then the raw pass-through, then the
// exchange on the same records, then its publish → delivery latency.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	cfg.setDefaults()
	tmp, err := os.MkdirTemp("", "exchange-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	conn, brokerDesc, stopBroker, err := connect(cfg, tmp)
	if err != nil {
		return res, err
	}
	defer stopBroker()
	storeDesc := "SQLite ledger"
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite://" + filepath.Join(tmp, "bench.db")
	} else if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		storeDesc = "PostgreSQL ledger"
	}
	r, err := start(ctx, cfg, conn, tmp)
	if err != nil {
		return res, err
	}
	defer r.close()
	fmt.Fprintf(cfg.Out, "exchange bench: %d reference records (~5%% invalid) on %s, %d partitions, %s, %d exchange process(es) in one group\n", cfg.Records, brokerDesc, cfg.Partitions, storeDesc, cfg.Processes)
	if err := r.prepare(ctx); err != nil {
		return res, err
	}
	if err := r.publishAll(ctx); err != nil {
		return res, err
	}
	if err := r.measureAll(ctx, &res); err != nil {
		return res, err
	}
	r.report(&res)
	return res, nil
}

// measureAll runs the contestants one after the other on the same records.
func (r *run) measureAll(ctx context.Context, res *Result) error {
	var err error
	if res.Raw, err = r.measureRaw(ctx, r.rawGroup(), r.rawOut, func(ctx context.Context) error {
		return rawPassThrough(ctx, r.kc, r.rawGroup(), r.ingress, r.rawOut)
	}); err != nil {
		return fmt.Errorf("raw kafka-go pass-through: %w", err)
	}
	r.line("raw kafka-go", res.Raw)
	if res.RawFranz, err = r.measureRaw(ctx, r.franzGroup(), r.franzOut, func(ctx context.Context) error {
		return franzPassThrough(ctx, r.conn, r.franzGroup(), r.ingress, r.franzOut)
	}); err != nil {
		return fmt.Errorf("raw franz-go pass-through: %w", err)
	}
	r.line("raw franz-go", res.RawFranz)
	return r.measureExchange(ctx, res)
}

func (r *run) line(name string, tp Throughput) {
	fmt.Fprintf(r.cfg.Out, "%-28s %8.0f rec/s  %6.1f MB/s  (%d records; %d after the first commit in %v)\n", name+":", tp.RecPerSec, tp.MBPerSec, tp.Records, tp.Timed, tp.Elapsed.Round(time.Millisecond))
}

// report prints the latency probes and the ratios, the kafka-go one last
// (the machine-readable line).
func (r *run) report(res *Result) {
	for _, l := range res.Latency {
		fmt.Fprintf(r.cfg.Out, "e2e latency at %d rec/s: p50 %.1f ms, p99 %.1f ms (%d delivered%s)\n", l.Rate, ms(l.P50), ms(l.P99), l.N, l.Note)
	}
	res.Ratio = res.Exchange.RecPerSec / res.Raw.RecPerSec
	res.RatioFranz = res.Exchange.RecPerSec / res.RawFranz.RecPerSec
	res.RatioCommit = res.ExchangeCommit.RecPerSec / res.Raw.RecPerSec
	fmt.Fprintf(r.cfg.Out, "ratio exchange-commit/raw: %.2f (exchange %.0f rec/s to last commit, raw %.0f rec/s)\n", res.RatioCommit, res.ExchangeCommit.RecPerSec, res.Raw.RecPerSec)
	fmt.Fprintf(r.cfg.Out, "ratio exchange/raw-franz: %.2f (exchange %.0f rec/s to index caught up, raw franz-go %.0f rec/s)\n", res.RatioFranz, res.Exchange.RecPerSec, res.RawFranz.RecPerSec)
	fmt.Fprintf(r.cfg.Out, "ratio exchange/raw: %.2f (exchange %.0f rec/s to index caught up, raw %.0f rec/s)\n", res.Ratio, res.Exchange.RecPerSec, res.Raw.RecPerSec)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchUser is the embedded broker's super user with SASL.
const benchUser = "bench"

// connect is the connection of every client of the run: to cfg.Brokers,
// or to an embedded broker it starts (with SASL, signing in as its super
// user, the password in a file under tmp); stop stops that broker.
func connect(cfg Config, tmp string) (conn kafkaclient.Config, desc string, stop func(), err error) {
	if len(cfg.Brokers) > 0 {
		if cfg.SASL {
			return conn, "", nil, errors.New("bench: SASL applies to the embedded broker only (no brokers given)")
		}
		return kafkaclient.Config{Brokers: cfg.Brokers}, "brokers " + strings.Join(cfg.Brokers, ","), func() {}, nil
	}
	opts := []devbroker.Option{devbroker.DefaultPartitions(cfg.Partitions)}
	desc = "embedded kfake broker"
	if cfg.SASL {
		pw := make([]byte, 18)
		if _, err := rand.Read(pw); err != nil {
			return conn, "", nil, err
		}
		file := filepath.Join(tmp, "kafka.password")
		if err := os.WriteFile(file, []byte(hex.EncodeToString(pw)), 0o600); err != nil {
			return conn, "", nil, err
		}
		opts = append(opts, devbroker.SASL(benchUser, hex.EncodeToString(pw)))
		conn.SASL = &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: benchUser, PasswordFile: file}
		desc += " with SASL/SCRAM-SHA-512 and ACLs"
	}
	b, err := devbroker.Start("127.0.0.1:0", opts...)
	if err != nil {
		return conn, "", nil, err
	}
	conn.Brokers = []string{b.Addr()}
	return conn, desc, b.Close, nil
}

// start assembles the exchange on the reference policy (written under tmp)
// and the bench's Kafka clients, and creates every topic of the run.
func start(ctx context.Context, cfg Config, conn kafkaclient.Config, tmp string) (*run, error) {
	policyDir := filepath.Join(tmp, "policy")
	if err := writePolicy(policyDir); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, conn: conn, ingress: names.Ingress(Dataset), rawOut: "bench.raw-passthrough", franzOut: "bench.raw-franz", nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}
	// Nothing calls the bench's HTTP surface; it is secured all the same.
	iss, err := devissuer.Load(tmp, "http://127.0.0.1")
	if err != nil {
		return nil, err
	}
	authn, err := iss.Authenticator(ctx, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i < cfg.Processes; i++ {
		a, err := r.newApp(ctx, authn, policyDir, tmp)
		if err != nil {
			r.closeApps()
			return nil, fmt.Errorf("starting exchange process %d: %w", i+1, err)
		}
		r.apps = append(r.apps, a)
	}
	r.app = r.apps[0]
	if r.kc, err = kafkaclient.New(conn, kafkaclient.AdminTimeout(10*time.Second)); err != nil {
		r.closeApps()
		return nil, err
	}
	r.admin = r.kc.Admin()
	topics := append(r.app.Topics(), r.rawOut, r.franzOut)
	if err := exchange.EnsureTopics(ctx, r.kc, topics, cfg.Partitions, 0); err != nil {
		r.close()
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	counts, err := waitLeaders(lctx, r.admin, topics)
	r.parts = counts
	if err != nil {
		r.close()
		return nil, err
	}
	// Topics an earlier run created on this broker keep their partitions;
	// the run counts records on cfg.Partitions of them.
	if n := counts[r.ingress]; n != cfg.Partitions {
		r.close()
		return nil, fmt.Errorf("topic %s has %d partitions on this broker, --partitions is %d: run with --partitions %d, or delete the bench's topics first", r.ingress, n, cfg.Partitions, n)
	}
	return r, nil
}

// newApp assembles one exchange process of the run; every one is a member
// of the same worker group on the same store.
func (r *run) newApp(ctx context.Context, authn *auth.Authenticator, policyDir, tmp string) (*app.App, error) {
	return app.New(ctx, app.Config{
		HTTP: app.HTTPSecurity{Auth: authn},
		Kafka: exchange.KafkaConfig{
			Config:     r.conn,
			GroupID:    r.exchangeGroup(),
			Partitions: r.cfg.Partitions,
		},
		DatabaseURL:         r.cfg.DatabaseURL,
		Worker:              r.cfg.Tuning,
		ContractsDir:        policyDir,
		RegisterSchemaFiles: true,
		// The bench policy's agreements are active as written, like
		// exchange dev's examples: seeded into the lifecycle store.
		SeedFromFiles: true,
		KeyFile:       filepath.Join(tmp, "secret.key"),
		CreateKey:     true,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func (r *run) closeApps() {
	for _, a := range r.apps {
		a.Close()
	}
}

func (r *run) close() {
	r.kc.Close()
	r.closeApps()
}

// prepare finds where this run's records will start and builds their
// generator. Each contestant reads this run's records only: the topic may
// hold an earlier run's (Apache Kafka), so both groups start at its end
// offsets.
func (r *run) prepare(ctx context.Context) error {
	var err error
	if r.starts, err = endOffsets(ctx, r.admin, r.ingress, r.cfg.Partitions); err != nil {
		return err
	}
	if err := checkLedgerFresh(ctx, r.app.Store(), r.ingress, r.starts); err != nil {
		return err
	}
	latest, err := r.app.Registry().Latest(ctx, names.IngressSubject(Dataset))
	if err != nil {
		return err
	}
	r.gen, err = gen.New(latest.Avro, latest.ID, gen.EventTime("administered_at"), gen.Mix(0, 0.03, 0.02))
	return err
}

// publishAll publishes the records both contestants read, notes where they
// end, and sets both groups' offsets to where they start.
func (r *run) publishAll(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	start := time.Now()
	bytes, err := publish(pctx, r.kc, r.ingress, r.gen, r.cfg.Records)
	cancel()
	if err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	el := time.Since(start)
	fmt.Fprintf(r.cfg.Out, "published %d records (%.1f MB) in %v (%.0f rec/s)\n", r.cfg.Records, float64(bytes)/1e6, el.Round(time.Millisecond), float64(r.cfg.Records)/el.Seconds())
	r.avgBytes = float64(bytes) / float64(r.cfg.Records)
	if r.ends, err = endOffsets(ctx, r.admin, r.ingress, r.cfg.Partitions); err != nil {
		return err
	}
	for _, group := range []string{r.rawGroup(), r.franzGroup(), r.exchangeGroup()} {
		if err := commitStarts(ctx, r.admin, group, r.ingress, r.starts); err != nil {
			return err
		}
	}
	return nil
}

// measureRaw runs a raw pass-through (relay, consuming as group, producing
// to out) until it committed every published record, and checks it
// produced them all.
func (r *run) measureRaw(ctx context.Context, group, out string, relay func(context.Context) error) (Throughput, error) {
	before, err := endOffsets(ctx, r.admin, out, r.parts[out])
	if err != nil {
		return Throughput{}, err
	}
	rctx, rcancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer rcancel()
	rawDone := make(chan error, 1)
	go func() { rawDone <- relay(rctx) }()
	c, err := waitCommitted(rctx, r.admin, group, r.ingress, r.starts, r.ends, rawDone)
	rcancel()
	<-rawDone
	if err != nil {
		return Throughput{}, err
	}
	after, err := endOffsets(ctx, r.admin, out, r.parts[out])
	if err != nil {
		return Throughput{}, err
	}
	var produced int64
	for p, e := range after {
		produced += e - before[p]
	}
	// At least once: a retried produce may write a record twice.
	if produced < c.total-c.base {
		return Throughput{}, fmt.Errorf("%d records on %s after committing %d", produced, out, c.total-c.base)
	}
	return c.throughput(c.last, r.avgBytes), nil
}

// measureExchange runs the exchange on the same records until it committed
// them all and its ledger index caught up, then measures its latency with
// the exchange caught up, and stops it.
func (r *run) measureExchange(ctx context.Context, res *Result) error {
	ectx, ecancel := context.WithCancel(ctx)
	defer ecancel()
	// Any process stopping is reported on appDone; each reports once.
	appDone := make(chan error, len(r.apps))
	lns := make([]net.Listener, 0, len(r.apps))
	for range r.apps {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	for i, a := range r.apps {
		go func() { appDone <- a.Run(ectx, lns[i]) }()
	}
	if r.cfg.OnExchangePhase != nil {
		r.cfg.OnExchangePhase(true)
	}
	runErr := r.measureExchangeRate(ectx, res, appDone)
	if r.cfg.OnExchangePhase != nil {
		r.cfg.OnExchangePhase(false)
	}
	if runErr == nil {
		lctx, lcancel := context.WithTimeout(ectx, r.cfg.Timeout)
		// Half of the maximum the whole path sustains, the index included:
		// above the index's rate the backlog (and the latency) only grows.
		res.Latency, runErr = r.latencies(lctx, res.Exchange.RecPerSec)
		lcancel()
		if runErr == nil {
			res.P50, res.P99, res.LatencyN = res.Latency[0].P50, res.Latency[0].P99, res.Latency[0].N
		}
	}
	ecancel()
	for range r.apps {
		if aerr := <-appDone; aerr != nil && !errors.Is(aerr, context.Canceled) && runErr == nil {
			runErr = fmt.Errorf("exchange stopped: %w", aerr)
		}
	}
	return runErr
}

// reportMembers prints how many members the exchange's worker group has
// and how many partitions each was assigned: with --processes, whether
// every process took part.
func (r *run) reportMembers(ctx context.Context) {
	resp, err := r.admin.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{r.exchangeGroup()}})
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
		fmt.Fprintf(r.cfg.Out, "exchange group: not described (%v)\n", errors.Join(err, groupErr(resp)))
		return
	}
	var parts []string
	for _, m := range resp.Groups[0].Members {
		n := 0
		for _, t := range m.MemberAssignments.Topics {
			n += len(t.Partitions)
		}
		parts = append(parts, strconv.Itoa(n))
	}
	fmt.Fprintf(r.cfg.Out, "exchange group: %d members of %d processes, partitions each: %s\n", len(resp.Groups[0].Members), len(r.apps), strings.Join(parts, "/"))
}

func groupErr(resp *kafka.DescribeGroupsResponse) error {
	if resp != nil && len(resp.Groups) == 1 {
		return resp.Groups[0].Error
	}
	return nil
}

// measureExchangeRate waits, at the same time, for the exchange's last
// commit and for its ledger index to hold every published position; both
// are timed from its first commit. appDone reports the exchange stopping.
func (r *run) measureExchangeRate(ctx context.Context, res *Result, appDone chan error) error {
	wctx, wcancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer wcancel()
	type indexed struct {
		at    time.Time
		found int64
		err   error
	}
	idx := make(chan indexed, 1)
	go func() {
		at, found, err := newIndexWatch(r.app.Store(), r.ingress, r.starts, r.ends).wait(wctx)
		idx <- indexed{at, found, err}
	}()
	c, err := waitCommitted(wctx, r.admin, r.exchangeGroup(), r.ingress, r.starts, r.ends, appDone)
	if err != nil {
		wcancel()
		<-idx
		return fmt.Errorf("exchange: %w", err)
	}
	if len(r.apps) > 1 {
		r.reportMembers(ctx)
	}
	r.line("exchange to last commit", c.throughput(c.last, r.avgBytes))
	res.ExchangeCommit = c.throughput(c.last, r.avgBytes)
	var in indexed
	select {
	case in = <-idx:
	case aerr := <-appDone:
		appDone <- aerr // for measureExchange
		return fmt.Errorf("exchange stopped before its ledger index caught up: %v", aerr)
	}
	if in.err != nil {
		return fmt.Errorf("exchange: %w", in.err)
	}
	if in.found != c.total-c.base {
		return fmt.Errorf("exchange: the ledger index holds %d entries of this run, %d records were published", in.found, c.total-c.base)
	}
	// Both pollers tick every 20 ms: with a synchronous ledger write the
	// index can be seen complete a tick before the last commit is. The
	// exchange is done when both are.
	res.Exchange = c.throughput(maxTime(in.at, c.last), r.avgBytes)
	r.line("exchange to index caught up", res.Exchange)
	return nil
}

func writePolicy(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return fs.WalkDir(policyFS, "policy", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := policyFS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o600)
	})
}

// publish writes n generated records to topic in large synchronous batches.
func publish(ctx context.Context, kc *kafkaclient.Clients, topic string, g *gen.Generator, n int) (int64, error) {
	w := kc.Writer(topic) // key hash, acks=all, 2 ms batch timeout
	w.BatchSize, w.BatchBytes = 2000, 900<<10
	defer w.Close()
	var total int64
	const chunk = 10_000
	msgs := make([]kafka.Message, 0, chunk)
	now := time.Now()
	for i := 0; i < n; i++ {
		if i%chunk == 0 {
			now = time.Now()
		}
		key, value, _, err := g.Next(now)
		if err != nil {
			return total, err
		}
		total += int64(len(value))
		msgs = append(msgs, kafka.Message{Key: key, Value: value})
		if len(msgs) == chunk || i == n-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return total, err
			}
			msgs = msgs[:0]
		}
	}
	return total, nil
}

// rawPassThrough is the baseline: what a minimal, correct at-least-once
// kafka-go relay costs on this broker. Same batching as the exchange:
// fetch up to 1000 records (5 ms linger), produce synchronously with acks=all,
// then commit.
func rawPassThrough(ctx context.Context, kc *kafkaclient.Clients, group, in, out string) error {
	r := kc.Reader(kafka.ReaderConfig{
		GroupID: group, GroupTopics: []string{in},
		StartOffset: kafka.FirstOffset, CommitInterval: 0,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond,
		SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second,
	})
	defer r.Close()
	w := kc.Writer(out) // key hash, acks=all, 2 ms batch timeout
	w.BatchSize, w.BatchBytes = 1000, 900<<10
	defer w.Close()
	batch := make([]kafka.Message, 0, 1000)
	outMsgs := make([]kafka.Message, 0, 1000)
	for {
		batch = batch[:0]
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		batch = append(batch, m)
		lctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
		for len(batch) < cap(batch) {
			m, err := r.FetchMessage(lctx)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		cancel()
		outMsgs = outMsgs[:0]
		for _, m := range batch {
			outMsgs = append(outMsgs, kafka.Message{Key: m.Key, Value: m.Value, Headers: m.Headers})
		}
		if err := w.WriteMessages(ctx, outMsgs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := r.CommitMessages(ctx, batch...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func endOffsets(ctx context.Context, c *kafka.Client, topic string, partitions int) (map[int]int64, error) {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := c.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// checkLedgerFresh refuses a store whose ledger audited offsets of topic at
// or beyond where this run's records start: they were audited for other
// records (an earlier run on another broker: the embedded broker starts
// every topic at offset 0), and the exchange halts such partitions rather
// than deliver records its ledger cannot hold.
func checkLedgerFresh(ctx context.Context, lg ledger.PositionReader, topic string, starts map[int]int64) error {
	for p, start := range starts {
		h, err := lg.HighestOffset(ctx, ledger.Chain{Topic: topic, Partition: int32(p)})
		if err != nil {
			return fmt.Errorf("reading the ledger: %w", err)
		}
		if h >= start {
			return fmt.Errorf("the ledger of --database already holds entries for %s/%d up to offset %d, but this broker's records start at offset %d: the database was used with another broker (an earlier bench run?); give exchange bench a fresh database (e.g. createdb exchange_bench_2) or omit --database", topic, p, h, start)
		}
	}
	return nil
}

// commitStarts sets group's offsets on topic to starts before any member
// joins (an empty group accepts commits with no generation).
//
// On a freshly started broker the group coordinator may not be ready yet
// (its offsets topic is being created): those answers are retried, bounded
// by ctx.
func commitStarts(ctx context.Context, c *kafka.Client, group, topic string, starts map[int]int64) error {
	req := &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{}}
	for p, o := range starts {
		req.Topics[topic] = append(req.Topics[topic], kafka.OffsetCommit{Partition: p, Offset: o})
	}
	for {
		err := commitStartsOnce(ctx, c, req, group, topic)
		if err == nil || !coordinatorNotReady(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (waiting for the group coordinator: %v)", err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func commitStartsOnce(ctx context.Context, c *kafka.Client, req *kafka.OffsetCommitRequest, group, topic string) error {
	resp, err := c.OffsetCommit(ctx, req)
	if err != nil {
		return fmt.Errorf("setting the start offsets of group %s: %w", group, err)
	}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return fmt.Errorf("setting the start offset of group %s on %s/%d: %w", group, topic, po.Partition, po.Error)
		}
	}
	return nil
}

// coordinatorNotReady: the broker's group coordinator is still starting.
func coordinatorNotReady(err error) bool {
	return errors.Is(err, kafka.NotCoordinatorForGroup) || errors.Is(err, kafka.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafka.GroupLoadInProgress)
}

// commits is a group's progress from its first commit past the run's
// start offsets (first, at t0) to its last (total, at last).
type commits struct {
	base, first, total int64 // sums of offsets over the partitions
	t0, last           time.Time
}

// throughput is the rate of the records committed after the first commit
// over the time from t0 to end (the last commit, or the moment the ledger
// index caught up), so the time the group takes to form is not counted
// against any contestant.
func (c commits) throughput(end time.Time, avgBytes float64) Throughput {
	n, el := c.total-c.first, end.Sub(c.t0)
	if n <= 0 || el <= 0 {
		// Everything was committed at once: too few records to measure.
		n, el = c.total-c.base, max(el, 0)+time.Millisecond
	}
	rps := float64(n) / el.Seconds()
	records := c.total - c.base
	return Throughput{Records: records, Bytes: int64(float64(records) * avgBytes), Timed: n, Elapsed: el, RecPerSec: rps, MBPerSec: rps * avgBytes / 1e6}
}

// waitCommitted polls the group's committed offsets until they reach ends,
// from starts; done reports the consuming side stopping.
func waitCommitted(ctx context.Context, c *kafka.Client, group, topic string, starts, ends map[int]int64, done chan error) (commits, error) {
	var cs commits
	parts := make([]int, 0, len(ends))
	for p, e := range ends {
		parts = append(parts, p)
		cs.total += e
		cs.base += starts[p]
	}
	sort.Ints(parts)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return cs, fmt.Errorf("not caught up in time: %w", ctx.Err())
		case err := <-done:
			done <- err // the caller waits for it too
			if err == nil {
				err = errors.New("stopped before catching up")
			}
			return cs, err
		case <-tick.C:
		}
		resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
		if err != nil {
			continue
		}
		var committed int64
		for _, po := range resp.Topics[topic] {
			if po.CommittedOffset > 0 {
				committed += po.CommittedOffset
			}
		}
		now := time.Now()
		if cs.t0.IsZero() && committed > cs.base {
			cs.t0, cs.first = now, committed
			continue
		}
		if committed >= cs.total && !cs.t0.IsZero() {
			cs.last = now
			return cs, nil
		}
	}
}
