package exchange

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestRecreatedIngressTopic: an ingress topic is deleted and created again
// under the same name, and its new records reuse offsets the ledger has
// audited for the old ones. The exchange must not deliver them (they would
// have no ledger entry of their own): the partition halts before anything
// of it is delivered or committed, with the exchange_partitions_halted
// gauge up. Once an operator moves the group's offset past the ledger's
// highest offset (the README's procedure), records after it flow and are
// audited; the ledger (SQLite) verifies throughout.
func TestRecreatedIngressTopic(t *testing.T) {
	m := newMechanics(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	verify := func(when string, entries int) {
		t.Helper()
		if got := m.ledger.len(t); got != entries { // verifies the chains too
			t.Fatalf("%s: %d ledger entries, want %d", when, got, entries)
		}
		if got, err := m.ledger.HighestOffset(ctx, ledger.Chain{Topic: m.ingress}); err != nil || got != int64(entries-1) {
			t.Fatalf("%s: highest audited offset %d (%v), want %d", when, got, err, entries-1)
		}
	}

	// The first incarnation: 50 records, delivered and audited.
	stop := runWorker(t, m.worker(t, nil, nil))
	m.k.publish(t, m.records(50, 0)...)
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	verify("first incarnation", 50)

	// Delete the topic; once the broker no longer knows it, create it again
	// and publish 80 other records at offsets 0..79.
	resp, err := m.k.client().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{m.ingress}})
	if err != nil || resp.Errors[m.ingress] != nil {
		t.Fatalf("deleting %s: %v %v", m.ingress, err, resp)
	}
	waitFor(t, 30*time.Second, "the broker to apply the deletion", func() bool {
		md, err := m.k.client().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{m.ingress}})
		if err != nil {
			return false
		}
		for _, tp := range md.Topics {
			if tp.Name == m.ingress && tp.Error == nil {
				return false
			}
		}
		return true
	})
	m.k.ensure(t, 1, m.ingress)
	m.k.publish(t, m.records(80, 1000)...)

	// Kafka drops a deleted topic's committed offsets, so the group starts
	// the new incarnation from its first offset; a group that never read
	// the topic does the same on any broker.
	m.group += "-after"
	// Another group is another exchange: its own audit topic and indexer.
	m.k.ensureAudit(t, m.group, 1)
	m.ledger.index(t, m.k.brokers, m.group)
	metrics := NewMetrics(prometheus.NewRegistry())
	stop = runWorker(t, m.worker(t, nil, nil, WithMetrics(metrics)))
	halted := metrics.halted.WithLabelValues(m.ingress)
	waitFor(t, 60*time.Second, "the partition to halt", func() bool { return gaugeValue(t, halted) == 1 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := gaugeValue(t, halted); got != 0 {
		t.Errorf("halted gauge %v after the worker stopped, want 0", got)
	}
	for _, topic := range []string{m.topicA, m.topicB} {
		if got := len(m.k.readAll(t, topic)); got != 50 {
			t.Fatalf("%s: %d records after the halt, want the first incarnation's 50", topic, got)
		}
	}
	if com, err := m.k.committed(ctx, m.group, m.ingress); err != nil || com[0] >= 0 {
		t.Fatalf("committed offset %v (%v) while halted, want none", com, err)
	}
	verify("halted", 50)

	// The operator's way on: move the group's offset past the ledger's
	// highest offset (49) while no member runs.
	res, err := m.k.client().OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: m.group, GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{m.ingress: {{Partition: 0, Offset: 50}}},
	})
	if err != nil {
		t.Fatalf("moving the group's offset: %v", err)
	}
	for _, p := range res.Topics[m.ingress] {
		if p.Error != nil {
			t.Fatalf("moving the group's offset: %v", p.Error)
		}
	}
	stop = runWorker(t, m.worker(t, nil, nil))
	m.k.waitCaughtUp(t, m.group, 60*time.Second, m.ingress)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i, topic := range []string{m.topicA, m.topicB} {
		got := m.k.readAll(t, topic)
		if len(got) != 80 {
			t.Fatalf("%s: %d records, want 50 + 30", topic, len(got))
		}
		for j, d := range got[50:] {
			v := decodeFor(t, m.plan, m.dataset, m.agreements[i].id, d.Value)
			if want := fmt.Sprintf("rec-%d", 1050+j); v["id"] != want {
				t.Errorf("%s: delivery %d is %v, want %s (the new incarnation from offset 50)", topic, 50+j, v["id"], want)
			}
			if src, _ := header(d, HeaderSource); src != fmt.Sprintf("%s/0/%d", m.ingress, 50+j) {
				t.Errorf("%s: delivery %d from %s", topic, 50+j, src)
			}
		}
	}
	verify("after the offset move", 80)
}
