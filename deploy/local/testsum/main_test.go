package main

import (
	"strings"
	"testing"
)

func TestSummaryCounts(t *testing.T) {
	var out strings.Builder
	s := newSummary(&out)
	for _, e := range []event{
		{Action: "output", Package: "a", Output: "-test.shuffle 42\n"},
		{Action: "run", Package: "a", Test: "TestOK"},
		{Action: "output", Package: "a", Test: "TestOK", Output: "quiet\n"},
		{Action: "pass", Package: "a", Test: "TestOK"},
		{Action: "output", Package: "a", Test: "TestBad/case", Output: "want 1, got 2\n"},
		{Action: "fail", Package: "a", Test: "TestBad/case"},
		{Action: "fail", Package: "a", Test: "TestBad"},
		{Action: "output", Package: "a", Test: "TestKafka", Output: "    x_test.go:9: EXCHANGE_TEST_KAFKA_BROKERS is unset\n"},
		{Action: "skip", Package: "a", Test: "TestKafka"},
		{Action: "output", Package: "a", Output: "FAIL\ta\t0.1s\n"},
		{Action: "fail", Package: "a"},
		// A package that fails with no failing test: a build error.
		{Action: "build-output", ImportPath: "b", Output: "b/x.go:1:1: undefined: y\n"},
		{Action: "fail", Package: "b", FailedBuild: "b"},
		// A fuzz run: the last execs line counts.
		{Action: "output", Package: "c", Test: "FuzzX", Output: "fuzz: elapsed: 3s, execs: 100 (33/sec)\n"},
		{Action: "output", Package: "c", Test: "FuzzX", Output: "fuzz: elapsed: 6s, execs: 250 (50/sec)\n"},
		{Action: "pass", Package: "c", Test: "FuzzX"},
		// Fault-test figures: shown once although printed twice, even on pass.
		{Action: "output", Package: "d", Test: "TestKill", Output: "    checker_test.go:401: TestKill: sent 10, delivered 9, quarantined 1, duplicates 0, lost 0, unaudited 0\n"},
		{Action: "output", Package: "d", Test: "TestKill", Output: "TestKill: sent 10, delivered 9, quarantined 1, duplicates 0, lost 0, unaudited 0\n"},
		{Action: "output", Package: "d", Test: "TestKill", Output: "TestKill: acknowledged 10; faults: 3 kills\n"},
		{Action: "pass", Package: "d", Test: "TestKill"},
	} {
		s.add(e)
	}
	if s.passed != 3 || s.failed != 3 || s.skipped != 1 {
		t.Fatalf("passed %d failed %d skipped %d, want 3 3 1", s.passed, s.failed, s.skipped)
	}
	wantFigures := []string{
		"TestKill: sent 10, delivered 9, quarantined 1, duplicates 0, lost 0, unaudited 0",
		"TestKill: acknowledged 10; faults: 3 kills",
	}
	if strings.Join(s.figures, "\n") != strings.Join(wantFigures, "\n") {
		t.Errorf("figures %q, want %q", s.figures, wantFigures)
	}
	if got := s.fuzzExecs[key{"c", "FuzzX"}]; got != 250 {
		t.Fatalf("fuzz execs = %d, want 250", got)
	}
	text := out.String()
	for _, want := range []string{
		"---- output of failed a TestBad/case\nwant 1, got 2\n",
		"SKIP a TestKafka: x_test.go:9: EXCHANGE_TEST_KAFKA_BROKERS is unset\n",
		"a: tests ran in the order of -test.shuffle 42",
		"b/x.go:1:1: undefined: y\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "quiet") {
		t.Errorf("output of a passing test was printed:\n%s", text)
	}
}
