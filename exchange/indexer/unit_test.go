package indexer

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
)

func TestConfig(t *testing.T) {
	var idx ledger.Index = &failingIndex{}
	kc := kafkaclient.Config{Brokers: []string{"127.0.0.1:9092"}}
	ix, err := New(Config{Kafka: kc}, idx)
	if err != nil {
		t.Fatal(err)
	}
	if ix.cfg.MaxBatchEntries != 20000 || ix.cfg.Linger != 20*time.Millisecond || ix.cfg.StoreTimeout != 30*time.Second {
		t.Errorf("defaults = %+v", ix.cfg)
	}
	if ix.Group() != names.IndexerGroup(names.DefaultGroup) || ix.Topic() != names.Audit(names.DefaultGroup) {
		t.Errorf("group %q topic %q, want the default group's indexer group and audit topic", ix.Group(), ix.Topic())
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kafka: kc, MaxBatchEntries: -1}, "max batch entries -1"},
		{Config{Kafka: kc, Linger: -time.Second}, "linger -1s"},
		{Config{Kafka: kc, StoreTimeout: -time.Second}, "store timeout -1s"},
		{Config{}, "kafka"},
	} {
		if _, err := New(c.cfg, idx); err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
			t.Errorf("New(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
	}
	if _, err := New(Config{Kafka: kc}, nil); err == nil {
		t.Error("New without an index succeeded")
	}
}

// A batch keeps entries in message order, turns an undecodable value into
// a malformed flag with its position and truncated evidence, and commits
// each partition's last message.
func TestBatchAdd(t *testing.T) {
	es := entries(source, 0, 0, 5)
	huge := make([]byte, ledger.MaxFlagBytes+10)
	b := &batch{}
	now := time.Now()
	b.add(fetched{msg: kafka.Message{Topic: names.Audit(testGroup), Partition: 1, Offset: 7, Value: ledger.AppendAuditBatch(nil, es[:2])}}, now)
	b.add(fetched{msg: kafka.Message{Topic: names.Audit(testGroup), Partition: 1, Offset: 8, Value: huge}}, now)
	b.add(fetched{msg: kafka.Message{Topic: names.Audit(testGroup), Partition: 2, Offset: 3, Value: ledger.AppendAuditBatch(nil, es[2:])}}, now)
	if len(b.entries) != 5 || b.size() != 6 || b.messages != 3 {
		t.Fatalf("batch has %d entries, size %d, %d messages; want 5, 6, 3", len(b.entries), b.size(), b.messages)
	}
	for i, e := range b.entries {
		if e.Offset != int64(i) {
			t.Errorf("entry %d has offset %d: order lost", i, e.Offset)
		}
	}
	f := b.flags[0]
	if f.Reason != ledger.FlagMalformed || !strings.HasPrefix(f.Detail, "audit message "+names.Audit(testGroup)+"/1@8: ") || len(f.Entry) != ledger.MaxFlagBytes {
		t.Errorf("flag = %s %q (%d bytes)", f.Reason, f.Detail, len(f.Entry))
	}
	if len(b.last) != 2 || b.last[0].offset != 8 || b.last[1].offset != 3 {
		t.Errorf("commit positions = %+v, want 1@8 and 2@3", b.last)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// TestSplitByChain: every chain's entries land in one part, in order; at
// most n parts; nothing lost.
func TestSplitByChain(t *testing.T) {
	var entries []ledger.Entry
	for i := 0; i < 40; i++ {
		entries = append(entries, ledger.Entry{Topic: "ingress.x", Partition: int32(i % 5), Offset: int64(i)})
	}
	for _, n := range []int{1, 2, 3, 8} {
		parts := splitByChain(entries, n)
		if len(parts) > n || len(parts) > 5 {
			t.Fatalf("n=%d: %d parts", n, len(parts))
		}
		where := map[int32]int{}
		total := 0
		for k, p := range parts {
			last := map[int32]int64{}
			for _, e := range p {
				if w, ok := where[e.Partition]; ok && w != k {
					t.Errorf("n=%d: chain %d in parts %d and %d", n, e.Partition, w, k)
				}
				where[e.Partition] = k
				if l, ok := last[e.Partition]; ok && e.Offset < l {
					t.Errorf("n=%d: chain %d out of order", n, e.Partition)
				}
				last[e.Partition] = e.Offset
			}
			total += len(p)
		}
		if total != len(entries) {
			t.Errorf("n=%d: %d entries in the parts, want %d", n, total, len(entries))
		}
	}
}
