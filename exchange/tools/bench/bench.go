// Package bench is `exchange bench`: it publishes N reference records (the
// 15-field immunisation record, ~5% invalid) to an ingress topic, runs the
// exchange on them with the reference policy, and in the same run measures a
// raw kafka-go pass-through (group consume → produce → commit, no policy) of
// the same records on the same broker, so the ratio between the two is the
// cost of the policy broker itself.
package bench

import (
	"context"
	"embed"
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
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
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
	// LatencyRecords are published at LatencyRate/s after the throughput
	// runs, to measure publish → delivery latency. Defaults 3000 and 1000.
	LatencyRecords int
	LatencyRate    int
	Timeout        time.Duration // bound of each phase; default 10 min
	Out            io.Writer     // progress and results; default os.Stdout
	// OnExchangePhase, when set, is called with true as the exchange starts
	// on the published records and with false once it has caught up (to
	// profile that phase alone).
	OnExchangePhase func(start bool)
}

// Throughput is one measured run.
type Throughput struct {
	Records   int64
	Bytes     int64
	Elapsed   time.Duration
	RecPerSec float64
	MBPerSec  float64
}

// Result is what a benchmark run measured.
type Result struct {
	Raw, Exchange Throughput
	P50, P99      time.Duration // publish → delivery
	LatencyN      int           // delivered records the latency is computed over
	Ratio         float64       // Exchange.RecPerSec / Raw.RecPerSec
}

// Run executes the benchmark.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	if cfg.Records <= 0 {
		cfg.Records = 1_000_000
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	if cfg.LatencyRecords <= 0 {
		cfg.LatencyRecords = 3000
	}
	if cfg.LatencyRate <= 0 {
		cfg.LatencyRate = 1000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	tmp, err := os.MkdirTemp("", "exchange-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	brokerDesc := "embedded kfake broker"
	if len(cfg.Brokers) == 0 {
		b, err := devbroker.Start("127.0.0.1:0", devbroker.DefaultPartitions(cfg.Partitions))
		if err != nil {
			return res, err
		}
		defer b.Close()
		cfg.Brokers = []string{b.Addr()}
	} else {
		brokerDesc = "brokers " + strings.Join(cfg.Brokers, ",")
	}
	storeDesc := "SQLite ledger"
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = "sqlite://" + filepath.Join(tmp, "bench.db")
	} else if strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		storeDesc = "PostgreSQL ledger"
	}
	policyDir := filepath.Join(tmp, "policy")
	if err := writePolicy(policyDir); err != nil {
		return res, err
	}
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(ctx, app.Config{
		Brokers:             cfg.Brokers,
		GroupID:             "exchange-bench-" + nonce, // exchangeGroup
		Partitions:          cfg.Partitions,
		DatabaseURL:         cfg.DatabaseURL,
		ContractsDir:        policyDir,
		RegisterSchemaFiles: true,
		KeyFile:             filepath.Join(tmp, "secret.key"),
		CreateKey:           true,
		Logger:              quiet,
	})
	if err != nil {
		return res, fmt.Errorf("starting the exchange: %w", err)
	}
	defer a.Close()

	ingress := names.Ingress(Dataset)
	rawOut := "bench.raw-passthrough"
	tr := &kafka.Transport{}
	if err := exchange.EnsureTopicsWith(ctx, cfg.Brokers, append(a.Topics(), rawOut), cfg.Partitions, exchange.TopicOptions{Transport: tr}); err != nil {
		return res, err
	}
	fmt.Fprintf(cfg.Out, "exchange bench: %d reference records (~5%% invalid) on %s, %d partitions, %s\n", cfg.Records, brokerDesc, cfg.Partitions, storeDesc)

	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second}
	// Each contestant reads this run's records only: the topic may hold an
	// earlier run's (Apache Kafka), so both groups start at its end offsets.
	starts, err := endOffsets(ctx, client, ingress, cfg.Partitions)
	if err != nil {
		return res, err
	}
	if err := checkLedgerFresh(ctx, a.Store(), ingress, starts); err != nil {
		return res, err
	}

	latest, err := a.Registry().Latest(ctx, names.IngressSubject(Dataset))
	if err != nil {
		return res, err
	}
	g, err := gen.New(latest.Avro, latest.ID, gen.EventTime("administered_at"), gen.Mix(0, 0.03, 0.02))
	if err != nil {
		return res, err
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	start := time.Now()
	bytes, err := publish(pctx, cfg.Brokers, tr, ingress, g, cfg.Records)
	cancel()
	if err != nil {
		return res, fmt.Errorf("publishing: %w", err)
	}
	el := time.Since(start)
	fmt.Fprintf(cfg.Out, "published %d records (%.1f MB) in %v (%.0f rec/s)\n", cfg.Records, float64(bytes)/1e6, el.Round(time.Millisecond), float64(cfg.Records)/el.Seconds())
	avgBytes := float64(bytes) / float64(cfg.Records)

	ends, err := endOffsets(ctx, client, ingress, cfg.Partitions)
	if err != nil {
		return res, err
	}
	rawGroup, exchangeGroup := "bench-raw-"+nonce, "exchange-bench-"+nonce
	for _, group := range []string{rawGroup, exchangeGroup} {
		if err := commitStarts(ctx, client, group, ingress, starts); err != nil {
			return res, err
		}
	}

	// Raw pass-through baseline.
	rctx, rcancel := context.WithTimeout(ctx, cfg.Timeout)
	rawDone := make(chan error, 1)
	go func() { rawDone <- rawPassThrough(rctx, cfg.Brokers, tr, rawGroup, ingress, rawOut) }()
	res.Raw, err = waitCommitted(rctx, client, rawGroup, ingress, starts, ends, avgBytes, rawDone)
	rcancel()
	<-rawDone
	if err != nil {
		return res, fmt.Errorf("raw pass-through: %w", err)
	}
	fmt.Fprintf(cfg.Out, "raw pass-through:  %8.0f rec/s  %6.1f MB/s  (%d records in %v)\n", res.Raw.RecPerSec, res.Raw.MBPerSec, res.Raw.Records, res.Raw.Elapsed.Round(time.Millisecond))

	// The exchange on the same records.
	ectx, ecancel := context.WithCancel(ctx)
	defer ecancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	appDone := make(chan error, 1)
	if cfg.OnExchangePhase != nil {
		cfg.OnExchangePhase(true)
	}
	go func() { appDone <- a.Run(ectx, ln) }()
	wctx, wcancel := context.WithTimeout(ectx, cfg.Timeout)
	res.Exchange, err = waitCommitted(wctx, client, exchangeGroup, ingress, starts, ends, avgBytes, appDone)
	wcancel()
	if cfg.OnExchangePhase != nil {
		cfg.OnExchangePhase(false)
	}
	if err != nil {
		return res, fmt.Errorf("exchange: %w", err)
	}

	// Latency, publish → delivery, with the exchange caught up.
	lctx, lcancel := context.WithTimeout(ectx, cfg.Timeout)
	res.P50, res.P99, res.LatencyN, err = latency(lctx, cfg, tr, client, g, ingress, names.Deliver(Consumer, Agreement))
	lcancel()
	ecancel()
	if aerr := <-appDone; aerr != nil && !errors.Is(aerr, context.Canceled) {
		return res, fmt.Errorf("exchange stopped: %w", aerr)
	}
	if err != nil {
		return res, fmt.Errorf("latency: %w", err)
	}
	fmt.Fprintf(cfg.Out, "exchange:          %8.0f rec/s  %6.1f MB/s  (%d records in %v)  e2e latency p50 %v p99 %v (%d records at %d/s)\n",
		res.Exchange.RecPerSec, res.Exchange.MBPerSec, res.Exchange.Records, res.Exchange.Elapsed.Round(time.Millisecond),
		res.P50.Round(100*time.Microsecond), res.P99.Round(100*time.Microsecond), res.LatencyN, cfg.LatencyRate)
	res.Ratio = res.Exchange.RecPerSec / res.Raw.RecPerSec
	fmt.Fprintf(cfg.Out, "ratio exchange/raw: %.2f (exchange %.0f rec/s, raw %.0f rec/s)\n", res.Ratio, res.Exchange.RecPerSec, res.Raw.RecPerSec)
	return res, nil
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
func publish(ctx context.Context, brokers []string, tr *kafka.Transport, topic string, g *gen.Generator, n int) (int64, error) {
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Transport: tr,
		Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 2000, BatchBytes: 900 << 10, BatchTimeout: 2 * time.Millisecond,
	}
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
func rawPassThrough(ctx context.Context, brokers []string, tr *kafka.Transport, group, in, out string) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: group, GroupTopics: []string{in},
		StartOffset: kafka.FirstOffset, CommitInterval: 0,
		MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 250 * time.Millisecond,
		SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second, RebalanceTimeout: 10 * time.Second,
	})
	defer r.Close()
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: out, Transport: tr, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: 900 << 10, BatchTimeout: 2 * time.Millisecond,
	}
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
func commitStarts(ctx context.Context, c *kafka.Client, group, topic string, starts map[int]int64) error {
	req := &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{}}
	for p, o := range starts {
		req.Topics[topic] = append(req.Topics[topic], kafka.OffsetCommit{Partition: p, Offset: o})
	}
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

// waitCommitted polls the group's committed offsets until they reach ends,
// from starts. The rate is measured from the first commit past starts to
// the last, so the time the group takes to form is not counted against
// either contestant.
func waitCommitted(ctx context.Context, c *kafka.Client, group, topic string, starts, ends map[int]int64, avgBytes float64, done <-chan error) (Throughput, error) {
	var total, base int64
	parts := make([]int, 0, len(ends))
	for p, e := range ends {
		parts = append(parts, p)
		total += e
		base += starts[p]
	}
	sort.Ints(parts)
	var t0 time.Time
	var c0 int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return Throughput{}, fmt.Errorf("not caught up in time: %w", ctx.Err())
		case err := <-done:
			if err == nil {
				err = errors.New("stopped before catching up")
			}
			return Throughput{}, err
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
		if t0.IsZero() && committed > base {
			t0, c0 = now, committed
			continue
		}
		if committed >= total && !t0.IsZero() {
			n := committed - c0
			el := now.Sub(t0)
			if n <= 0 || el <= 0 {
				// Everything was committed at once: too few records to measure.
				n, el = committed-base, now.Sub(t0)+time.Millisecond
			}
			rps := float64(n) / el.Seconds()
			records := committed - base
			return Throughput{Records: records, Bytes: int64(float64(records) * avgBytes), Elapsed: el, RecPerSec: rps, MBPerSec: rps * avgBytes / 1e6}, nil
		}
	}
}

// latency publishes records at a steady rate and times each one from the
// publish call to its arrival on the delivery topic.
func latency(ctx context.Context, cfg Config, tr *kafka.Transport, client *kafka.Client, g *gen.Generator, ingress, deliver string) (p50, p99 time.Duration, n int, err error) {
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var lat []time.Duration
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	// Start each reader at the delivery topic's end as it is now, not at
	// kafka.LastOffset: that is resolved by the reader's first fetch, which
	// on a loaded machine can come after the first latency record arrived.
	starts, err := endOffsets(ctx, client, deliver, cfg.Partitions)
	if err != nil {
		return 0, 0, 0, err
	}
	for p := 0; p < cfg.Partitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: deliver, Partition: p, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 10 * time.Millisecond})
		if err := r.SetOffset(starts[p]); err != nil {
			return 0, 0, 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					return
				}
				at := time.Now()
				mu.Lock()
				if t, ok := sent[string(m.Key)]; ok {
					lat = append(lat, at.Sub(t))
					delete(sent, string(m.Key))
				}
				mu.Unlock()
			}
		}()
	}
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: ingress, Transport: tr, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	tick := time.NewTicker(time.Second / time.Duration(cfg.LatencyRate))
	defer tick.Stop()
	expected := 0
	for i := 0; i < cfg.LatencyRecords; i++ {
		select {
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		case <-tick.C:
		}
		_, value, kind, err := g.Next(time.Now())
		if err != nil {
			return 0, 0, 0, err
		}
		key := "lat-" + strconv.Itoa(i)
		mu.Lock()
		if kind == gen.Valid {
			sent[key] = time.Now()
			expected++
		}
		mu.Unlock()
		if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(key), Value: value}); err != nil {
			return 0, 0, 0, err
		}
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got >= expected {
			break
		}
		select {
		case <-deadline.C:
			return 0, 0, 0, fmt.Errorf("%d of %d valid latency records delivered within 30s", got, expected)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*50/100], lat[len(lat)*99/100], len(lat), nil
}
