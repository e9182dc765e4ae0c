package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// franzOpts are the connection options of a franz-go client on conn: the
// bench's brokers and, with SASL, its SCRAM-SHA-512 super user (the only
// authentication the bench sets up, see connect). kafkaclient builds
// kafka-go clients only; this second library is the bench's yardstick, so
// it is built here, for the bench alone.
func franzOpts(conn kafkaclient.Config) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(conn.Brokers...), kgo.ClientID("exchange-bench-franz")}
	if conn.SASL == nil {
		return opts, nil
	}
	if conn.SASL.Mechanism != kafkaclient.ScramSHA512 || conn.SASL.PasswordFile == "" {
		return nil, fmt.Errorf("franz-go baseline: SASL mechanism %s without a password file is not supported by the bench", conn.SASL.Mechanism)
	}
	pw, err := os.ReadFile(conn.SASL.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("franz-go baseline: reading the SASL password: %w", err)
	}
	auth := scram.Auth{User: conn.SASL.Username, Pass: strings.TrimSuffix(string(pw), "\n")}
	return append(opts, kgo.SASL(auth.AsSha512Mechanism())), nil
}

// franzPassThrough is the second baseline: the best raw pipe franz-go
// makes of the same records. Group consume, produce every polled record
// with acks=all (idempotent, franz-go's default), and once all of a poll's
// records are acknowledged commit the polled offsets synchronously. Tuned
// for throughput: large fetches, polls of up to franzMaxPoll records, 1 ms
// linger, full-size produce batches and a deep buffer, so nobody tunes the
// exchange against a soft baseline.
func franzPassThrough(ctx context.Context, conn kafkaclient.Config, group, in, out string) error {
	opts, err := franzOpts(conn)
	if err != nil {
		return err
	}
	opts = append(opts,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20), kgo.FetchMaxWait(250*time.Millisecond),
		kgo.DefaultProduceTopic(out), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond), kgo.ProducerBatchMaxBytes(1_000_000),
		kgo.MaxBufferedRecords(200_000),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("franz-go client: %w", err)
	}
	defer func() {
		cl.AllowRebalance() // Close leaves the group, which waits for a blocked rebalance
		cl.Close()
	}()
	var outRecs []*kgo.Record
	for {
		fetches := cl.PollRecords(ctx, franzMaxPoll)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetchError(fetches); err != nil {
			return err
		}
		outRecs = outRecs[:0]
		fetches.EachRecord(func(r *kgo.Record) {
			outRecs = append(outRecs, &kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers})
		})
		if err := cl.ProduceSync(ctx, outRecs...).FirstErr(); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("franz-go produce: %w", err)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("franz-go commit: %w", err)
		}
		cl.AllowRebalance()
	}
}

// franzMaxPoll bounds the records of one poll (one produce, one commit).
// Without a bound the first poll takes most of a run's records (fetches of
// up to 64 MB), and a rate timed from the first commit to the last, as
// every contestant's is, would measure only the remainder.
const franzMaxPoll = 10_000

// fetchError is the first error of a poll that is not the client closing
// or the context ending.
func fetchError(f kgo.Fetches) error {
	for _, fe := range f.Errors() {
		if errors.Is(fe.Err, context.Canceled) || errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, kgo.ErrClientClosed) {
			continue
		}
		return fmt.Errorf("franz-go fetch %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	return nil
}
