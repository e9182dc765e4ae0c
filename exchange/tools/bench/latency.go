package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/tools/gen"
)

// LatencyRate is the publish rate of one latency probe: PerSec records a
// second, or, with PerSec 0, the fraction OfMax of the exchange's measured
// rate to index caught up (issue 18 wants p99 at 1,000 rec/s and at half the
// maximum).
type LatencyRate struct {
	PerSec int
	OfMax  float64
}

// DefaultLatencyRates are 1,000 rec/s and half the measured maximum.
func DefaultLatencyRates() []LatencyRate { return []LatencyRate{{PerSec: 1000}, {OfMax: 0.5}} }

// ParseLatencyRates parses a comma-separated list of rates: positive
// integers (records a second) or "half" (half the exchange's measured rate
// to index caught up).
func ParseLatencyRates(s string) ([]LatencyRate, error) {
	var out []LatencyRate
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "half" {
			out = append(out, LatencyRate{OfMax: 0.5})
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("latency rate %q: want a positive number of records a second or \"half\"", f)
		}
		out = append(out, LatencyRate{PerSec: n})
	}
	return out, nil
}

// Latency is what one latency probe measured: publish → delivery.
type Latency struct {
	Rate     int    // records published a second
	Note     string // how the rate was chosen, when not given
	P50, P99 time.Duration
	N        int // delivered records the percentiles are computed over
}

// latencies runs one probe per configured rate, one after the other;
// maxRate is the exchange's measured rate to index caught up.
func (r *run) latencies(ctx context.Context, maxRate float64) ([]Latency, error) {
	var out []Latency
	for i, lr := range r.cfg.LatencyRates {
		l := Latency{Rate: lr.PerSec}
		if lr.PerSec == 0 {
			l.Rate = max(1, int(maxRate*lr.OfMax))
			l.Note = fmt.Sprintf("; %.2f of the exchange's %.0f rec/s to index caught up", lr.OfMax, maxRate)
		}
		// Every probe lasts as long as LatencyRecords at 1,000 rec/s.
		n := max(1, int(int64(l.Rate)*int64(r.cfg.LatencyRecords)/1000))
		var err error
		l.P50, l.P99, l.N, err = r.latency(ctx, names.Deliver(Consumer, Agreement), "lat"+strconv.Itoa(i)+"-", l.Rate, n)
		if err != nil {
			return nil, fmt.Errorf("latency at %d rec/s: %w", l.Rate, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// latencyProbe times records from their publish call to their arrival on
// the delivery topic.
type latencyProbe struct {
	mu   sync.Mutex
	sent map[string]time.Time // key → publish time, of valid records not yet seen
	lat  []time.Duration
}

func (p *latencyProbe) published(key string, at time.Time) {
	p.mu.Lock()
	p.sent[key] = at
	p.mu.Unlock()
}

func (p *latencyProbe) arrived(key string, at time.Time) {
	p.mu.Lock()
	if t, ok := p.sent[key]; ok {
		p.lat = append(p.lat, at.Sub(t))
		delete(p.sent, key)
	}
	p.mu.Unlock()
}

func (p *latencyProbe) delivered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lat)
}

// latency publishes n records at rate/s (keys prefixed by prefix) and
// times each one from the publish call to its arrival on the delivery
// topic.
func (r *run) latency(ctx context.Context, deliver, prefix string, rate, n int) (p50, p99 time.Duration, got int, err error) {
	probe := &latencyProbe{sent: map[string]time.Time{}}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	if err := r.readDeliveries(ctx, rctx, &wg, deliver, probe); err != nil {
		return 0, 0, 0, err
	}
	expected, err := r.publishTimed(ctx, probe, prefix, rate, n)
	if err != nil {
		return 0, 0, 0, err
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for got := probe.delivered(); got < expected; got = probe.delivered() {
		select {
		case <-deadline.C:
			return 0, 0, 0, fmt.Errorf("%d of %d valid latency records delivered within 30s", got, expected)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	wg.Wait()
	lat := probe.lat
	if len(lat) == 0 {
		return 0, 0, 0, errors.New("no valid latency record was published (too few records)")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*50/100], lat[len(lat)*99/100], len(lat), nil
}

// readDeliveries starts one reader per partition of the delivery topic,
// reporting each arrival to probe until rctx ends; wg counts them.
func (r *run) readDeliveries(ctx, rctx context.Context, wg *sync.WaitGroup, deliver string, probe *latencyProbe) error {
	// Start each reader at the delivery topic's end as it is now, not at
	// kafka.LastOffset: that is resolved by the reader's first fetch, which
	// on a loaded machine can come after the first latency record arrived.
	// An earlier run on this broker may have created it with other
	// partitions than this run's.
	parts := r.parts[deliver]
	if parts == 0 {
		parts = r.cfg.Partitions
	}
	starts, err := endOffsets(ctx, r.admin, deliver, parts)
	if err != nil {
		return err
	}
	for p := 0; p < parts; p++ {
		rd := r.kc.Reader(kafka.ReaderConfig{Topic: deliver, Partition: p, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 10 * time.Millisecond})
		if err := rd.SetOffset(starts[p]); err != nil {
			rd.Close()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			for {
				m, err := rd.ReadMessage(rctx) // no group: nothing is committed
				if err != nil {
					return
				}
				probe.arrived(string(m.Key), time.Now())
			}
		}()
	}
	return nil
}

// publishTimed publishes n records at rate/s, noting the publish time of
// each valid one, and returns how many were valid. Every millisecond it
// hands the records due by then to a franz-go producer (no linger, acks
// from all in-sync replicas, several requests in flight per broker), so
// the schedule holds at any rate and no queue builds in the publisher: a
// kafka-go async writer sends one request per partition at a time, and on
// Apache Kafka its queue, not the exchange, made the latency.
func (r *run) publishTimed(ctx context.Context, probe *latencyProbe, prefix string, rate, n int) (expected int, err error) {
	opts, err := franzOpts(r.conn)
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic(r.ingress), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		return 0, fmt.Errorf("latency publisher: %w", err)
	}
	defer cl.Close()
	var mu sync.Mutex
	var werr error
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if werr == nil {
				werr = err
			}
			mu.Unlock()
		}
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < n; {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		due := min(n, int(time.Since(start).Seconds()*float64(rate))+1)
		for ; i < due; i++ {
			_, value, kind, err := r.gen.Next(time.Now())
			if err != nil {
				return 0, err
			}
			key := prefix + strconv.Itoa(i)
			if kind == gen.Valid {
				probe.published(key, time.Now())
				expected++
			}
			cl.Produce(ctx, &kgo.Record{Key: []byte(key), Value: value}, done)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, fmt.Errorf("flushing the latency records: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if werr != nil {
		return 0, fmt.Errorf("publishing the latency records: %w", werr)
	}
	return expected, nil
}
