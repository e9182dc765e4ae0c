package activity

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange"
)

func batch() exchange.BatchActivity {
	return exchange.BatchActivity{
		In: map[string]int{"health.immunisations": 5},
		Delivered: map[exchange.DatasetLabel]int{
			{Dataset: "health.immunisations", Label: "health-to-statistics-2026-002"}: 4,
			{Dataset: "health.immunisations", Label: "health-to-social-2026-001"}:     2,
		},
		Skipped: map[exchange.SkipLabel]int{
			{Dataset: "health.immunisations", Agreement: "health-to-social-2026-001", Reason: "filter"}: 2,
		},
		Quarantined: map[exchange.DatasetLabel]int{{Dataset: "health.immunisations", Label: "quality:age_in_range"}: 1},
		Details:     map[exchange.DatasetLabel]string{{Dataset: "health.immunisations", Label: "quality:age_in_range"}: "rule age_in_range (record.age < 130) is false"},
	}
}

func TestSummaryAndFirstOccurrence(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	l.ObserveActivity(batch())
	l.ObserveActivity(batch())
	l.Flush()
	out := buf.String()
	for _, want := range []string{
		`activity: first record of health.immunisations quarantined for quality:age_in_range: rule age_in_range (record.age < 130) is false`,
		`activity: health.immunisations: 10 in, 12 delivered (health-to-social-2026-001 4, health-to-statistics-2026-002 8), 2 quarantined (quality:age_in_range 2), 4 skipped (health-to-social-2026-001/filter 4)`,
		` dataset=health.immunisations interval=1h0m0s in=10 delivered=12 quarantined=2 skipped=4 warned=0 delivered_to.health-to-social-2026-001=4 delivered_to.health-to-statistics-2026-002=8 quarantined_for.quality:age_in_range=2 skipped_by.health-to-social-2026-001/filter=4`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "first record of"); n != 1 {
		t.Errorf("%d first-occurrence lines, want 1:\n%s", n, out)
	}

	// A later interval: the reason is not reported again as a first.
	buf.Reset()
	l.ObserveActivity(batch())
	l.Flush()
	if strings.Contains(buf.String(), "first record of") || !strings.Contains(buf.String(), " in=5 ") {
		t.Errorf("second interval:\n%s", buf.String())
	}
}

func TestIdleLogsNothing(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	if err := l.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("idle activity log wrote:\n%s", buf.String())
	}
}

// Run logs on its interval and what is left when it stops.
func TestRunLogsEachIntervalAndAtStop(t *testing.T) {
	var buf syncBuffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	l.ObserveActivity(batch())
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "5 in") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	l.ObserveActivity(batch())
	cancel()
	<-done
	if n := strings.Count(buf.String(), "activity: health.immunisations: 5 in"); n != 2 {
		t.Errorf("%d summaries, want 2 (one on the tick, one at stop):\n%s", n, buf.String())
	}
}

func TestFirstQuarantineLeavesOutEventTime(t *testing.T) {
	got := withoutEventTime("event time 2026-06-15T11:00:00Z is 1h0m0s old, over the max age 15m0s by 45m0s")
	want := "event time (see the ledger) is 1h0m0s old, over the max age 15m0s by 45m0s"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if d := "rule age_in_range (record.age >= 0) is false: An age outside 0–129"; withoutEventTime(d) != d {
		t.Fatalf("a detail without an event time changed: %q", withoutEventTime(d))
	}
}
