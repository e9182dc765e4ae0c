package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/exchange/server"
)

// group runs the components of a process (App, IngestServer) as one:
// each until its context ends, and the first to fail stops all.
type group struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *slog.Logger
	wg     sync.WaitGroup
	mu     sync.Mutex
	first  error
}

func newGroup(ctx context.Context, log *slog.Logger) *group {
	g := &group{log: log}
	g.ctx, g.cancel = context.WithCancelCause(ctx)
	return g
}

// run starts fn; an error it returns before the group stops is the
// group's error, and stops every other component.
func (g *group) run(name string, fn func(context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := fn(g.ctx)
		if err != nil && g.ctx.Err() == nil {
			g.mu.Lock()
			if g.first == nil {
				g.first = fmt.Errorf("%s: %w", name, err)
			}
			g.mu.Unlock()
			g.log.Error("component failed; stopping", "component", name, "err", err)
			g.cancel(err)
		}
	}()
}

// wait waits for every component and returns the first failure.
func (g *group) wait() error {
	g.wg.Wait()
	g.cancel(nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

// serveHTTP serves srv on ln and, when metrics is not nil, its /metrics
// alone there; each shuts down gracefully (in-flight requests finish,
// within 10s) when the group stops.
func (g *group) serveHTTP(srv *server.Server, ln, metrics net.Listener) {
	g.run("http", func(ctx context.Context) error { return srv.Serve(ctx, ln, 10*time.Second) })
	if metrics != nil {
		g.run("metrics http", func(ctx context.Context) error { return srv.ServeMetrics(ctx, metrics, 10*time.Second) })
	}
}

// watchPolicy calls reload when the contracts directory of b (or the
// agreement states its plan was compiled with) changes
// (polled every interval) or when changes delivers (nil: never), until
// ctx ends. reload decides what a change means (App: a new plan,
// IngestServer: new contracts) and keeps what is in force on a problem.
func watchPolicy(ctx context.Context, b *planBuilder, interval time.Duration, changes <-chan struct{}, log *slog.Logger, reload func(context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changes:
		case <-t.C:
			changed, err := b.changed()
			if err != nil {
				log.Error("watching contracts directory", "dir", b.dir, "err", err)
				continue
			}
			if !changed && !b.statesChanged() {
				continue
			}
		}
		reload(ctx)
	}
}
