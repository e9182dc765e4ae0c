package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

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

// readTopic reads every record of every partition of topic.
func (w *world) readTopic(topic string) ([]kafka.Message, error) {
	end, err := w.endOffsets(topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return nil, nil // deleted (TestQuarantineTopicDeleted): holds nothing
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", topic, err)
	}
	var out []kafka.Message
	for p := 0; p < partitions; p++ {
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

// readLedger returns the ledger entries of the ingress topic by position,
// and the verification of every chain and checkpoint of the store.
func (w *world) readLedger() (map[pos][]entrySummary, *ledger.Report, error) {
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
			s := entrySummary{decision: e.Decision, reasons: slices.Clone(e.Reasons), planVersion: e.PlanVersion, skips: map[string]string{}, decided: e.DecisionTime}
			for _, d := range e.Deliveries {
				s.delivered = append(s.delivered, d.AgreementID)
			}
			for _, sk := range e.Skips {
				s.skips[sk.AgreementID] = sk.Reason
			}
			p := pos{int(e.Partition), e.Offset}
			out[p] = append(out[p], s)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	rep, err := ledger.Verify(ctx, db, ledger.VerifyOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("verifying the ledger: %w", err)
	}
	return out, rep, nil
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

// verify reads back the ingress, delivery and quarantine topics and the
// ledger, and checks every ingress record against its expectation. With
// upTo nil every record must be complete; otherwise only records below
// upTo[partition] must be (those the group committed), and records beyond
// are checked only for misrouting.
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
	entries, rep, err := w.readLedger()
	if err != nil {
		f.errorf("reading the ledger: %v", err)
		return f
	}
	if !rep.OK() {
		f.errorf("ledger verification: %d breaks, first %+v", len(rep.Breaks), rep.Breaks[0])
	}
	f.chains = fmt.Sprintf("%d chains, %d entries, %d signed checkpoints verify", rep.Chains, rep.Entries, rep.Checkpoints)

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
		case required:
			f.unaudited++
			f.errorf("ingress %s (%s): no ledger entry", p, exp.kind)
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
		if entry != nil {
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
	// Nothing may come from nowhere.
	for p := range entries {
		if !inIngress[p] {
			f.errorf("ledger entry for %s, which is not an ingress record", p)
		}
	}
	for ag := range outTopics {
		for p := range copies[ag] {
			if !inIngress[p] {
				f.errorf("delivery to %s from %s, which is not an ingress record", ag, p)
			}
		}
	}
	for p := range quar {
		if !inIngress[p] {
			f.errorf("quarantine copy of %s, which is not an ingress record", p)
		}
	}
	return f
}

// report prints the figures line (test log and stdout, so that CI output
// shows it) and fails the test on any lost or unaudited record, any other
// problem found, and any committed-offset regression.
func (w *world) report(f figures, mon *offsetMonitor, faults string) {
	w.t.Helper()
	line := f.String()
	w.t.Logf("%s: %s", w.t.Name(), line)
	fmt.Printf("%s: %s\n", w.t.Name(), line)
	extra := fmt.Sprintf("acknowledged %d; ledger: %s; faults: %s", f.acked, f.chains, faults)
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
// committed offsets was delivered (or quarantined) and audited: nothing is
// committed past what was done. It returns the committed offsets.
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
		w.t.Errorf("%s: committed past records not done: %d without their outputs, %d without a ledger entry", when, f.lost, f.unaudited)
	}
	w.t.Logf("%s: committed %v covers %d records, all delivered or quarantined and audited", when, upTo, f.sent)
	return upTo
}
