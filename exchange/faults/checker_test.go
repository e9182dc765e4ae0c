package faults

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/store"
)

// pos is a source position on the ingress topic.
type pos struct {
	part int
	off  int64
}

func (p pos) String() string { return strconv.Itoa(p.part) + "/" + strconv.FormatInt(p.off, 10) }

// entrySummary is what the checker needs of one ledger entry.
type entrySummary struct {
	decision    ledger.Decision
	reasons     []string
	delivered   []string          // agreement ids
	skips       map[string]string // agreement id -> reason
	planVersion string
	decided     time.Time
}

// figures are the numbers every scenario prints.
type figures struct {
	sent, delivered, quarantined, duplicates, lost, unaudited int
	acked                                                     int
	chains                                                    string
	audit                                                     string // what the audit topic held
	errs                                                      []string
}

func (f *figures) errorf(format string, args ...any) {
	if len(f.errs) < 50 {
		f.errs = append(f.errs, fmt.Sprintf(format, args...))
	} else if len(f.errs) == 50 {
		f.errs = append(f.errs, "… (more problems not listed)")
	}
}

func (f figures) String() string {
	return fmt.Sprintf("sent %d, delivered %d, quarantined %d, duplicates %d, lost %d, unaudited %d",
		f.sent, f.delivered, f.quarantined, f.duplicates, f.lost, f.unaudited)
}

// readTopic reads every record of every partition of topic, partition by
// partition, each in offset order.
func (w *world) readTopic(topic string) ([]kafka.Message, error) {
	// The exchange creates the topics it writes (the audit topic among
	// them) with as many partitions as it is configured for; ask.
	n, err := w.partitionCount(topic)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", topic, err)
	}
	if n == 0 {
		return nil, nil // deleted (TestQuarantineTopicDeleted) or not created yet: holds nothing
	}
	end, err := w.endOffsetsOf(topic, n)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", topic, err)
	}
	var out []kafka.Message
	for p := 0; p < n; p++ {
		if end[p] == 0 {
			continue
		}
		msgs, err := w.readPartition(topic, p, end[p])
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func (w *world) readPartition(topic string, p int, end int64) ([]kafka.Message, error) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: w.brokers, Topic: topic, Partition: p, Dialer: w.dialer,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(w.ctx, 60*time.Second)
	defer cancel()
	var out []kafka.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading %s/%d (at %d of %d): %w", topic, p, len(out), end, err)
		}
		out = append(out, m)
		if m.Offset >= end-1 {
			return out, nil
		}
	}
}

// summarize keeps what the checker compares of an entry.
func summarize(e *ledger.Entry) entrySummary {
	s := entrySummary{decision: e.Decision, reasons: slices.Clone(e.Reasons), planVersion: e.PlanVersion, skips: map[string]string{}, decided: e.DecisionTime}
	for _, d := range e.Deliveries {
		s.delivered = append(s.delivered, d.AgreementID)
	}
	for _, sk := range e.Skips {
		s.skips[sk.AgreementID] = sk.Reason
	}
	return s
}

// readLedger returns the SQL ledger's (the audit index's) entries of the
// ingress topic by position, and the verification of every chain and
// checkpoint of the store.
func (w *world) readLedger() (map[pos][]entrySummary, *ledger.Report, error) {
	return w.readIndex(true)
}

// readIndex is readLedger; without verify the report is nil (a cheap read
// for polling).
func (w *world) readIndex(verify bool) (map[pos][]entrySummary, *ledger.Report, error) {
	ctx, cancel := context.WithTimeout(w.ctx, 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, w.dbURL, store.WithoutMigrate())
	if err != nil {
		return nil, nil, fmt.Errorf("opening the store: %w", err)
	}
	defer db.Close()
	chains, err := db.Chains(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := map[pos][]entrySummary{}
	for _, c := range chains {
		if c.Topic != w.ingress {
			continue
		}
		err := db.ChainEntries(ctx, c, func(e *ledger.Entry) error {
			p := pos{int(e.Partition), e.Offset}
			out[p] = append(out[p], summarize(e))
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if !verify {
		return out, nil, nil
	}
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("verifying the ledger: %w", err)
	}
	return out, rep, nil
}

// auditLog is what the audit topic holds for the scenario's ingress
// records: the first entry of every position — the one the index keeps;
// later ones are a re-processing's (after a kill or a rebalance)
// duplicates — and how many entries there were.
type auditLog struct {
	first map[pos]entrySummary
	// order lists, per ingress partition, the offsets of the first entries
	// in the order the audit topic holds them: the order the index chains.
	order      map[int][]int64
	messages   int
	entries    int
	duplicates int
}

func (a auditLog) String() string {
	return fmt.Sprintf("%d messages, %d entries, %d positions, %d duplicates", a.messages, a.entries, len(a.first), a.duplicates)
}

// readAudit reads the whole audit topic of the scenario's exchange. The
// entries of one ingress partition are all in one audit partition (the
// message key is the source chain), in the order they were written, so
// the first one read for a position is the first one written.
func (w *world) readAudit() (auditLog, error) {
	a := auditLog{first: map[pos]entrySummary{}, order: map[int][]int64{}}
	topic := names.Audit(w.group)
	msgs, err := w.readTopic(topic)
	if err != nil {
		return a, err
	}
	for _, m := range msgs {
		es, err := ledger.ParseAuditBatch(m.Value)
		if err != nil {
			return a, fmt.Errorf("%s: message at %d/%d: %w", topic, m.Partition, m.Offset, err)
		}
		a.messages++
		for i := range es {
			e := &es[i]
			if e.Topic != w.ingress {
				return a, fmt.Errorf("%s: message at %d/%d holds an entry of %s/%d/%d, not of %s", topic, m.Partition, m.Offset, e.Topic, e.Partition, e.Offset, w.ingress)
			}
			if want := fmt.Sprintf("%s/%d", e.Topic, e.Partition); string(m.Key) != want {
				return a, fmt.Errorf("%s: message at %d/%d has key %q and holds an entry of %s", topic, m.Partition, m.Offset, m.Key, want)
			}
			a.entries++
			p := pos{int(e.Partition), e.Offset}
			if _, dup := a.first[p]; dup {
				a.duplicates++
				continue
			}
			a.first[p] = summarize(e)
			a.order[p.part] = append(a.order[p.part], p.off)
		}
	}
	return a, nil
}

// indexCatchUp bounds how long the final check waits for the SQL ledger
// (the asynchronous index of the audit topic) to hold every record.
const indexCatchUp = 120 * time.Second

// awaitIndex polls the SQL ledger until it holds an entry for every
// position of want, or indexCatchUp passes; then it reads it once more,
// verifying every chain and checkpoint.
func (w *world) awaitIndex(want map[pos]bool) (map[pos][]entrySummary, *ledger.Report, error) {
	missing := len(want)
	err := pollEvery(w.ctx, indexCatchUp, 500*time.Millisecond, func() error {
		idx, _, err := w.readIndex(false)
		if err != nil {
			return err
		}
		missing = 0
		for p := range want {
			if len(idx[p]) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d records not indexed", missing, len(want))
		}
		return nil
	})
	if err != nil {
		w.t.Logf("the index did not catch up within %v: %v", indexCatchUp, err)
	}
	return w.readIndex(true)
}

// compareAudit checks that the index holds, for every position, exactly
// the audit topic's first entry (first valid entry wins), and nothing the
// audit topic does not hold.
func compareAudit(f *figures, audit auditLog, idx map[pos][]entrySummary) {
	for p, a := range audit.first {
		es := idx[p]
		if len(es) == 0 {
			continue // counted as unaudited where the record is checked
		}
		e := es[0]
		ad, ed := slices.Sorted(slices.Values(a.delivered)), slices.Sorted(slices.Values(e.delivered))
		if a.decision != e.decision || !slices.Equal(ad, ed) || !slices.Equal(a.reasons, e.reasons) || !maps.Equal(a.skips, e.skips) {
			f.errorf("ingress %s: the index holds %s %v deliveries %v skips %v, the audit topic's first entry %s %v deliveries %v skips %v",
				p, e.decision, e.reasons, ed, e.skips, a.decision, a.reasons, ad, a.skips)
		}
	}
	for p := range idx {
		if _, ok := audit.first[p]; !ok {
			f.errorf("index entry for %s, which the audit topic does not hold", p)
		}
	}
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// sourceOf parses the exchange-source header into an ingress position.
func (w *world) sourceOf(m kafka.Message) (pos, bool) {
	src := header(m, exchange.HeaderSource)
	rest, ok := strings.CutPrefix(src, w.ingress+"/")
	if !ok {
		return pos{}, false
	}
	ps, offs, ok := strings.Cut(rest, "/")
	if !ok {
		return pos{}, false
	}
	p, err1 := strconv.Atoi(ps)
	o, err2 := strconv.ParseInt(offs, 10, 64)
	return pos{p, o}, err1 == nil && err2 == nil
}

// verify reads back the ingress, delivery, quarantine and audit topics and
// checks every ingress record against its expectation. With upTo nil every
// record must be complete, and its audit is checked in the index (the SQL
// ledger, once it caught up: exactly one entry, chains verified, agreeing
// with the audit topic); otherwise only records below upTo[partition] must
// be (those the group committed), their audit is checked in the audit
// topic, and records beyond are checked only for misrouting.
func (w *world) verify(upTo map[int]int64) figures {
	var f figures
	ingress, err := w.readTopic(w.ingress)
	if err != nil {
		f.errorf("reading ingress: %v", err)
		return f
	}
	outTopics := map[string]string{w.social: w.socialT, w.stats: w.statsT}
	copies := map[string]map[pos][]kafka.Message{}
	for ag, topic := range outTopics {
		msgs, err := w.readTopic(topic)
		if err != nil {
			f.errorf("reading %s: %v", topic, err)
			return f
		}
		copies[ag] = map[pos][]kafka.Message{}
		for _, m := range msgs {
			p, ok := w.sourceOf(m)
			if !ok {
				f.errorf("%s: record at %d/%d has exchange-source %q", topic, m.Partition, m.Offset, header(m, exchange.HeaderSource))
				continue
			}
			if a := header(m, exchange.HeaderAgreement); a != ag {
				f.errorf("%s: record from %s carries exchange-agreement %q", topic, p, a)
			}
			copies[ag][p] = append(copies[ag][p], m)
		}
	}
	quar := map[pos][]kafka.Message{}
	qmsgs, err := w.readTopic(w.quarantine)
	if err != nil {
		f.errorf("reading %s: %v", w.quarantine, err)
		return f
	}
	for _, m := range qmsgs {
		p, ok := w.sourceOf(m)
		if !ok {
			f.errorf("%s: record at %d/%d has exchange-source %q", w.quarantine, m.Partition, m.Offset, header(m, exchange.HeaderSource))
			continue
		}
		quar[p] = append(quar[p], m)
	}
	audit, err := w.readAudit()
	if err != nil {
		f.errorf("reading the audit topic: %v", err)
		return f
	}
	f.audit = audit.String()
	entries := w.auditedEntries(&f, upTo, audit, ingress)
	if entries == nil {
		return f
	}

	w.mu.Lock()
	expect := make(map[string]expectation, len(w.expect))
	for k, v := range w.expect {
		expect[k] = v
	}
	acked := make(map[string]bool, len(w.acked))
	for k, v := range w.acked {
		acked[k] = v
	}
	w.mu.Unlock()

	inIngress := map[pos]bool{}
	seenKeys := map[string]bool{}
	for _, m := range ingress {
		p := pos{m.Partition, m.Offset}
		inIngress[p] = true
		key := string(m.Key)
		seenKeys[key] = true
		required := upTo == nil || p.off < upTo[p.part]
		if required {
			f.sent++
		}
		exp, ok := expect[key]
		if !ok {
			f.errorf("ingress %s: record with key %q that no scenario published", p, key)
			continue
		}
		es := entries[p]
		var entry *entrySummary
		switch {
		case len(es) == 1:
			entry = &es[0]
		case len(es) > 1:
			f.errorf("ingress %s (%s): %d ledger entries, want exactly 1", p, exp.kind, len(es))
			entry = &es[0]
		case required && upTo == nil:
			f.unaudited++
			f.errorf("ingress %s (%s): no entry in the index (SQL ledger)", p, exp.kind)
		case required:
			f.unaudited++
			f.errorf("ingress %s (%s): committed, and no entry in the audit topic", p, exp.kind)
		}
		q := quar[p]
		if exp.reason != "" {
			for ag := range outTopics {
				if len(copies[ag][p]) > 0 {
					f.errorf("ingress %s (%s, quarantine %s): delivered to %s", p, exp.kind, exp.reason, ag)
				}
			}
			if len(q) == 0 {
				if required {
					f.lost++
					f.errorf("ingress %s (%s): no quarantine copy (want reason %s)", p, exp.kind, exp.reason)
				}
			} else {
				f.quarantined++
				f.duplicates += len(q) - 1
				for _, c := range q {
					if r := header(c, exchange.HeaderReason); !slices.Contains(strings.Split(r, ","), exp.reason) {
						f.errorf("ingress %s (%s): quarantined with reason %q, want %s", p, exp.kind, r, exp.reason)
					}
				}
			}
			if entry != nil && (entry.decision != ledger.Quarantined || !slices.Contains(entry.reasons, exp.reason)) {
				f.errorf("ingress %s (%s): ledger says %s %v, want quarantined with %s", p, exp.kind, entry.decision, entry.reasons, exp.reason)
			}
			continue
		}
		if len(q) > 0 {
			f.errorf("ingress %s (%s): quarantined with reason %q, want delivery", p, exp.kind, header(q[0], exchange.HeaderReason))
			if required {
				f.lost++
			}
			continue
		}
		recordLost := false
		var delivered []string
		for _, ag := range []string{w.social, w.stats} {
			must := slices.Contains(exp.deliver, ag)
			skipReason, skip := exp.skip[ag]
			if either, ok := exp.either[ag]; ok {
				// The plan it was decided on says which; the ledger records it.
				switch {
				case entry == nil:
					must = false // not required yet; nothing to compare with
					if len(copies[ag][p]) > 0 {
						must = true
					}
				case slices.Contains(entry.delivered, ag):
					must = true
				default:
					must, skip, skipReason = false, true, either
				}
			}
			cs := copies[ag][p]
			if must {
				if len(cs) == 0 {
					if required {
						recordLost = true
						f.errorf("ingress %s (%s): not delivered to %s", p, exp.kind, ag)
					}
					continue
				}
				f.delivered++
				delivered = append(delivered, ag)
				f.duplicates += len(cs) - 1
				want := exchange.DeliveryID(ag, w.ingress, p.part, p.off)
				for _, c := range cs {
					if id := header(c, exchange.HeaderDeliveryID); id != want {
						f.errorf("ingress %s: copy for %s carries delivery id %q, want %q", p, ag, id, want)
					}
				}
				continue
			}
			if len(cs) > 0 {
				f.errorf("ingress %s (%s): delivered to %s, which it must not reach", p, exp.kind, ag)
			}
			if skip && entry != nil && !slices.Contains(strings.Split(skipReason, "|"), entry.skips[ag]) {
				f.errorf("ingress %s (%s): ledger skip of %s is %q, want %q", p, exp.kind, ag, entry.skips[ag], skipReason)
			}
		}
		if recordLost {
			f.lost++
		}
		// An audit entry is written in the same round trip as its
		// deliveries, not after them: until the position is committed (or
		// the run is over) a kill or a read racing the live exchange may
		// see the entry without some of its copies. The retry makes them.
		if entry != nil && required {
			got := slices.Sorted(slices.Values(entry.delivered))
			want := slices.Sorted(slices.Values(delivered))
			if !recordLost && !slices.Equal(got, want) {
				f.errorf("ingress %s (%s): ledger deliveries %v, delivery topics hold %v", p, exp.kind, got, want)
			}
		}
	}
	// Everything acknowledged must be in ingress.
	if upTo == nil {
		f.acked = len(acked)
		for k := range acked {
			if !seenKeys[k] {
				f.lost++
				f.errorf("acknowledged record %s is not in ingress", k)
			}
		}
	}
	// Nothing may come from nowhere. Mid-stream (upTo set) the outputs
	// and the audit are read after ingress, so they may already hold
	// records published after that read: only positions below what the
	// ingress read saw must be ingress records.
	seenEnd := map[int]int64{}
	for p := range inIngress {
		seenEnd[p.part] = max(seenEnd[p.part], p.off+1)
	}
	fromNowhere := func(p pos) bool { return !inIngress[p] && (upTo == nil || p.off < seenEnd[p.part]) }
	for p := range entries {
		if fromNowhere(p) {
			f.errorf("audit entry for %s, which is not an ingress record", p)
		}
	}
	for ag := range outTopics {
		for p := range copies[ag] {
			if fromNowhere(p) {
				f.errorf("delivery to %s from %s, which is not an ingress record", ag, p)
			}
		}
	}
	for p := range quar {
		if fromNowhere(p) {
			f.errorf("quarantine copy of %s, which is not an ingress record", p)
		}
	}
	return f
}

// auditedEntries returns the entries a record's audit is checked against.
// Below the committed offsets (upTo set) that is the audit topic's first
// entry per position: a commit follows the acknowledgement of the batch's
// audit entries, while the index may lag. At the end (upTo nil) it waits
// for the index to catch up and returns the index's entries — which must
// verify and agree with the audit topic. Nil when they cannot be read.
func (w *world) auditedEntries(f *figures, upTo map[int]int64, audit auditLog, ingress []kafka.Message) map[pos][]entrySummary {
	if upTo != nil {
		out := make(map[pos][]entrySummary, len(audit.first))
		for p, e := range audit.first {
			out[p] = []entrySummary{e}
		}
		return out
	}
	want := make(map[pos]bool, len(ingress))
	for _, m := range ingress {
		want[pos{m.Partition, m.Offset}] = true
	}
	idx, rep, err := w.awaitIndex(want)
	if err != nil {
		f.errorf("reading the index (SQL ledger): %v", err)
		return nil
	}
	if !rep.OK() {
		f.errorf("ledger verification: %d breaks, first %+v", len(rep.Breaks), rep.Breaks[0])
	}
	f.chains = fmt.Sprintf("%d chains, %d entries, %d signed checkpoints verify", rep.Chains, rep.Entries, rep.Checkpoints)
	compareAudit(f, audit, idx)
	w.checkFlags(f)
	return idx
}

// checkFlags fails on any entry the index refused (ledger_flags): in these
// scenarios no position is reused and every entry is valid, so a flag is
// a defect of the record path or the index.
func (w *world) checkFlags(f *figures) {
	ctx, cancel := context.WithTimeout(w.ctx, 30*time.Second)
	defer cancel()
	db, err := store.Open(ctx, w.dbURL, store.WithoutMigrate())
	if err != nil {
		f.errorf("opening the store: %v", err)
		return
	}
	defer db.Close()
	flags, total, err := db.Flags(ctx, 5)
	if err != nil {
		f.errorf("listing the index's flags: %v", err)
		return
	}
	for _, fl := range flags {
		f.errorf("the index refused an entry: %s/%d/%d %s: %s", fl.Topic, fl.Partition, fl.Offset, fl.Reason, fl.Detail)
	}
	if total > int64(len(flags)) {
		f.errorf("the index refused %d entries in all", total)
	}
}

// report prints the figures line (test log and stdout, so that CI output
// shows it) and fails the test on any lost or unaudited record, any other
// problem found, and any committed-offset regression.
func (w *world) report(f figures, mon *offsetMonitor, faults string) {
	w.t.Helper()
	line := f.String()
	w.t.Logf("%s: %s", w.t.Name(), line)
	fmt.Printf("%s: %s\n", w.t.Name(), line)
	extra := fmt.Sprintf("acknowledged %d; audit topic: %s; ledger: %s; index duplicates counted by the running processes: %s; faults: %s",
		f.acked, f.audit, f.chains, w.indexDuplicates(), faults)
	if mon != nil {
		regs, polls := mon.finish()
		extra += fmt.Sprintf("; committed-offset polls %d, regressions %d", polls, len(regs))
		for _, r := range regs {
			if w.knownRegressions != "" {
				w.t.Logf("KNOWN DEFECT (%s): committed offset went backwards: %s", w.knownRegressions, r)
				continue
			}
			w.t.Errorf("committed offset went backwards: %s", r)
		}
		if len(regs) > 0 && w.knownRegressions != "" {
			extra += " (KNOWN DEFECT, not failing this test: " + w.knownRegressions + ")"
		}
	}
	w.t.Logf("%s: %s", w.t.Name(), extra)
	fmt.Printf("%s: %s\n", w.t.Name(), extra)
	for _, e := range f.errs {
		w.t.Error(e)
	}
	if f.lost != 0 || f.unaudited != 0 {
		w.t.Errorf("lost %d, unaudited %d: both must be 0", f.lost, f.unaudited)
	}
	if f.sent == 0 {
		w.t.Error("nothing was sent")
	}
	if w.t.Failed() {
		w.dumpLogs()
	}
}

// checkCommitted verifies that every ingress record below the group's
// committed offsets was delivered (or quarantined) and audited — its entry
// is in the audit topic; the index may lag — : nothing is committed past
// what was done. It returns the committed offsets.
func (w *world) checkCommitted(when string) map[int]int64 {
	w.t.Helper()
	com, err := w.committed()
	if err != nil {
		w.t.Fatalf("%s: fetching committed offsets: %v", when, err)
	}
	upTo := map[int]int64{}
	for p, o := range com {
		upTo[p] = max(o, 0)
	}
	f := w.verify(upTo)
	for _, e := range f.errs {
		w.t.Errorf("%s: %s", when, e)
	}
	if f.lost != 0 || f.unaudited != 0 {
		w.t.Errorf("%s: committed past records not done: %d without their outputs, %d without an audit topic entry", when, f.lost, f.unaudited)
	}
	w.t.Logf("%s: committed %v covers %d records, all delivered or quarantined and audited (in the audit topic)", when, upTo, f.sent)
	return upTo
}
