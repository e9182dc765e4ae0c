package exchange

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Failpoints are test-only fault injection for the fault tests of
// exchange/faults: with EXCHANGE_FAILPOINT=<name>:<n> in the environment,
// the n-th time the worker passes the point <name> the process kills itself
// with SIGKILL (no deferred function, no final commit); with
// EXCHANGE_FAILPOINT=<name>:<n>:pause it writes "failpoint <name> paused"
// to stderr and holds the worker there for 5 s, so that a test can stop the
// whole process (SIGSTOP) at that point, then carries on. The points are
// after_fetch (a batch fetched, not yet decided), after_produce (deliveries
// and quarantine copies acknowledged, ledger not written), after_ledger
// (ledger durable, offsets not committed) and after_commit. Without the
// variable a point costs one pointer load.
var activeFailpoint = parseFailpoint(os.Getenv("EXCHANGE_FAILPOINT"))

type failpointSpec struct {
	name  string
	n     int64
	pause bool // hold instead of SIGKILL
	hits  atomic.Int64
}

func parseFailpoint(v string) *failpointSpec {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return nil
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n < 1 {
		return nil
	}
	f := &failpointSpec{name: parts[0], n: n}
	if len(parts) == 3 {
		if parts[2] != "pause" {
			return nil
		}
		f.pause = true
	}
	return f
}

// failpoint kills the process (or holds the worker) at the configured hit
// of name.
func failpoint(name string) {
	f := activeFailpoint
	if f == nil || f.name != name || f.hits.Add(1) != f.n {
		return
	}
	if f.pause {
		fmt.Fprintf(os.Stderr, "failpoint %s paused\n", name)
		time.Sleep(5 * time.Second)
		return
	}
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	select {} // the signal is on its way: never return
}
