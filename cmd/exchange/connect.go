package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
)

// connectKind is one kind of `exchange connect <kind>`: a connector run
// alone, outside the exchange process, so it can be scaled and deployed
// separately. Each kind registers itself from its own file
// (connect_<kind>.go) with registerConnector.
type connectKind struct {
	summary string
	run     func(ctx context.Context, args []string) error
}

var connectKinds = map[string]connectKind{}

func registerConnector(kind, summary string, run func(ctx context.Context, args []string) error) {
	connectKinds[kind] = connectKind{summary: summary, run: run}
}

func init() {
	register("connect", "run one connector alone: exchange connect <kind> --config FILE",
		func(ctx context.Context, args []string) error { return connectCmd(ctx, args) })
}

// connectCmd dispatches `exchange connect <kind> [flags]`.
func connectCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(os.Stderr, connectUsage())
		if len(args) == 0 {
			return exitError{code: 2}
		}
		return nil
	}
	k, ok := connectKinds[args[0]]
	if !ok {
		return fmt.Errorf("connect: unknown connector kind %q (have %s)", args[0], strings.Join(connectKindNames(), ", "))
	}
	return k.run(ctx, args[1:])
}

func connectKindNames() []string {
	names := make([]string, 0, len(connectKinds))
	for n := range connectKinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func connectUsage() string {
	var b strings.Builder
	b.WriteString("usage: exchange connect <kind> --config FILE\n\nRuns one connector alone; each acts for one agency with that agency's\ncredentials (IDENTITY.md). Kinds:\n")
	for _, n := range connectKindNames() {
		fmt.Fprintf(&b, "  %-12s %s\n", n, connectKinds[n].summary)
	}
	return b.String()
}
