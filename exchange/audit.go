// The audit messages of a batch: its ledger entries, written to the audit
// topic in the same produce as its deliveries.

package exchange

import (
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// maxAuditMessageBytes bounds one audit message's value: well under a
// broker's default message.max.bytes (1 MiB) and the writer's
// ProduceBatchBytes, whatever the entries hold.
const maxAuditMessageBytes = 256 << 10

// appendAuditMessages appends to msgs the audit messages of entries (in
// record order): one per source partition of the batch (more when its
// entries exceed maxAuditMessageBytes), keyed by the chain ("topic/
// partition"), so all entries of one chain go to one audit partition in
// the order they were decided, which is the order the indexer chains them.
func appendAuditMessages(msgs []kafka.Message, topic string, entries []ledger.Entry) []kafka.Message {
	// A batch holds records of a few partitions, interleaved.
	var chains []ledger.Chain
	var runs [][]ledger.Entry
	for i := range entries {
		c := ledger.Chain{Topic: entries[i].Topic, Partition: entries[i].Partition}
		k := 0
		for k < len(chains) && chains[k] != c {
			k++
		}
		if k == len(chains) {
			chains = append(chains, c)
			runs = append(runs, make([]ledger.Entry, 0, len(entries)/(k+1)+1))
		}
		runs[k] = append(runs[k], entries[i])
	}
	for k, c := range chains {
		msgs = appendChainMessages(msgs, topic, c, runs[k])
	}
	return msgs
}

// appendChainMessages appends the audit messages of a run of one chain's
// entries, split so that no value exceeds maxAuditMessageBytes.
func appendChainMessages(msgs []kafka.Message, topic string, c ledger.Chain, entries []ledger.Entry) []kafka.Message {
	key := []byte(c.Topic + "/" + strconv.Itoa(int(c.Partition)))
	value := ledger.AppendAuditBatch(make([]byte, 0, 64+len(entries)*320), entries)
	if len(value) <= maxAuditMessageBytes || len(entries) == 1 {
		return append(msgs, kafka.Message{Topic: topic, Key: key, Value: value})
	}
	half := len(entries) / 2
	msgs = appendChainMessages(msgs, topic, c, entries[:half])
	return appendChainMessages(msgs, topic, c, entries[half:])
}
