package kafkaclient

import (
	"context"
	"sync"

	"github.com/segmentio/kafka-go"
)

// RunGeneration runs fn once per partition assigned to gen, each through
// gen.Start, and returns when gen is over and every fn has returned, so
// nothing of a generation still runs when the member joins the next. gen is
// over when the group moves on (heartbeat refused, partition change, a
// function gone) or ctx ends; returning then ends the generation. fn must
// return when its gctx ends.
func RunGeneration(ctx context.Context, gen *kafka.Generation, fn func(gctx context.Context, topic string, pa kafka.PartitionAssignment)) {
	var running sync.WaitGroup
	for topic, pas := range gen.Assignments {
		for _, pa := range pas {
			running.Add(1)
			gen.Start(func(gctx context.Context) {
				defer running.Done()
				fn(gctx, topic, pa)
			})
		}
	}
	ended := make(chan struct{})
	gen.Start(func(gctx context.Context) {
		defer close(ended)
		select {
		case <-gctx.Done():
		case <-ctx.Done():
		}
	})
	<-ended
	running.Wait()
}
