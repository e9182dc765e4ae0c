package exchange

import (
	"encoding/hex"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestClockSkew: publishers whose clocks run up to the allowed skew (5 min)
// ahead of the exchange's are delivered; beyond it the record is
// quarantined as freshness:future with how far ahead it was; a publisher
// running behind meets the ordinary freshness SLAs (the contract's 15 min,
// the social agreement's stricter 5 min). Every decision is audited with
// both times: the record's event time and the exchange's decision time.
func TestClockSkew(t *testing.T) {
	k := startKafka(t)
	ex := loadExamples(t)
	k.ensure(t, 3, Topics(ex.plan)...)

	const imm = "ingress.health.immunisations-value"
	ds := ex.dataset("health.immunisations")
	social := ex.agreement("health-to-social-2026-001")
	stats := ex.agreement("health-to-statistics-2026-002")
	ingress := names.Ingress(ds)

	// Event time = e2eNow - age: a negative age is a publisher clock ahead.
	ages := map[string]time.Duration{
		"ahead-4m59s": -(4*time.Minute + 59*time.Second),
		"ahead-5m01s": -(5*time.Minute + time.Second),
		"ahead-2h":    -2 * time.Hour,
		"behind-4m":   4 * time.Minute,
		"behind-14m":  14 * time.Minute,
		"behind-16m":  16 * time.Minute,
	}
	var cases []kafka.Message
	for key, age := range ages {
		cases = append(cases, kafka.Message{Topic: ingress, Key: []byte(key), Value: ex.encode(t, imm, immunisation("rec-"+key, "north", age))})
	}

	mem := runOnExamples(t, k, ex, "exchange-skew-"+ex.sfx, ingress, cases)

	var caseKeys []string
	for k := range ages {
		caseKeys = append(caseKeys, k)
	}
	// keysOf names records by their source keys (deliveries carry keyed
	// hashes of them).
	keysOf := func(ms []kafka.Message) []string {
		var out []string
		for _, m := range ms {
			k := string(m.Key)
			if agr, ok := header(m, HeaderAgreement); ok {
				k = sourceKey(agr, m.Key, caseKeys)
			}
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if got, want := keysOf(k.readAll(t, names.Deliver("statistics", stats))), []string{"ahead-4m59s", "behind-14m", "behind-4m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("statistics received %v, want %v", got, want)
	}
	if got, want := keysOf(k.readAll(t, names.Deliver("social-services", social))), []string{"ahead-4m59s", "behind-4m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("social-services received %v, want %v", got, want)
	}
	quar := map[string]kafka.Message{}
	for _, m := range k.readAll(t, names.Quarantine(ds)) {
		quar[string(m.Key)] = m
	}
	for key, want := range map[string]string{
		"ahead-5m01s": "freshness:future: event time 2026-06-15T12:05:01Z is 5m1s ahead of the exchange clock",
		"ahead-2h":    "freshness:future: event time 2026-06-15T14:00:00Z is 2h0m0s ahead of the exchange clock",
		"behind-16m":  "freshness:stale: event time 2026-06-15T11:44:00Z is 16m0s old, over the max age 15m0s by 1m0s",
	} {
		m, ok := quar[key]
		if !ok {
			t.Errorf("%s not quarantined", key)
			continue
		}
		if d, _ := header(m, HeaderDetail); !strings.HasPrefix(d, want) {
			t.Errorf("%s: quarantine detail %q, want it to start with %q", key, d, want)
		}
	}
	if len(quar) != 3 {
		t.Errorf("quarantined %v, want 3 records", keysOf(k.readAll(t, names.Quarantine(ds))))
	}

	// Both times in every entry: the event time as the publisher stated
	// it (to the millisecond of the schema), the decision time the
	// exchange's.
	entries := mem.all(t)
	if len(entries) != len(cases) {
		t.Fatalf("ledger has %d entries, want %d", len(entries), len(cases))
	}
	for _, e := range entries {
		var key string
		for k := range ages {
			if hex.EncodeToString(e.KeyHash) == keyHashHex(k) {
				key = k
			}
		}
		if key == "" {
			t.Fatalf("ledger entry %s/%d@%d matches no published key", e.Topic, e.Partition, e.Offset)
		}
		if want := e2eNow.Add(-ages[key]).Truncate(time.Millisecond); !e.EventTime.Equal(want) {
			t.Errorf("ledger %s: event time %v, want %v", key, e.EventTime, want)
		}
		if !e.DecisionTime.Equal(e2eNow) {
			t.Errorf("ledger %s: decision time %v, want the exchange clock %v", key, e.DecisionTime, e2eNow)
		}
		wantDecision := ledger.Delivered
		if _, q := quar[key]; q {
			wantDecision = ledger.Quarantined
		}
		if e.Decision != wantDecision {
			t.Errorf("ledger %s: decision %s, want %s", key, e.Decision, wantDecision)
		}
	}
}
