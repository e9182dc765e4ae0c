package exchange

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// Failpoints are test-only fault injection for the fault tests of
// exchange/faults: with EXCHANGE_FAILPOINT=<name>:<n> in the environment,
// the n-th time the worker passes the point <name> the process kills itself
// with SIGKILL (no deferred function, no final commit). The points are
// after_fetch (a batch fetched, not yet decided), after_produce (deliveries
// and quarantine copies acknowledged, ledger not written), after_ledger
// (ledger durable, offsets not committed) and after_commit. Without the
// variable a point costs one pointer load.
var activeFailpoint = parseFailpoint(os.Getenv("EXCHANGE_FAILPOINT"))

type failpointSpec struct {
	name string
	n    int64
	hits atomic.Int64
}

func parseFailpoint(v string) *failpointSpec {
	name, count, ok := strings.Cut(v, ":")
	if !ok || name == "" {
		return nil
	}
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		return nil
	}
	return &failpointSpec{name: name, n: n}
}

// failpoint kills the process at the configured hit of name.
func failpoint(name string) {
	f := activeFailpoint
	if f == nil || f.name != name || f.hits.Add(1) != f.n {
		return
	}
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill() // SIGKILL on Unix
	}
	select {} // the signal is on its way: never return
}
