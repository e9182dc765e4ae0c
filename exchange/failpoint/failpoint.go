// Package failpoint is test-only fault injection for the fault tests of
// exchange/faults: with EXCHANGE_FAILPOINT=<name>:<n> in the environment,
// the n-th time the process passes the point <name> it kills itself with
// SIGKILL (no deferred function, no final commit); with
// EXCHANGE_FAILPOINT=<name>:<n>:pause it writes "failpoint <name> paused"
// to stderr and holds the caller there for 5 s, so that a test can stop the
// whole process (SIGSTOP) at that point, then carries on. Without the
// variable a point costs one pointer load.
//
// The record path's points are after_fetch (a batch fetched, not yet
// decided), after_produce (deliveries, quarantine copies and audit entries
// acknowledged, offsets not committed) and after_commit; the audit
// indexer's are index_mid_copy (half of a large index write sent to the
// database, not committed) and after_index (the index write committed, the
// audit topic offsets not).
package failpoint

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

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

// Hit kills the process (or holds the caller) at the configured hit of
// name.
func Hit(name string) {
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

// Reader is an empty reader whose Read passes the point name: placed
// between the two halves of a stream (io.MultiReader), it stops the process
// with the first half sent and the second not (index_mid_copy, in the
// middle of a COPY).
func Reader(name string) io.Reader { return pointReader(name) }

type pointReader string

func (p pointReader) Read([]byte) (int, error) {
	Hit(string(p))
	return 0, io.EOF
}
