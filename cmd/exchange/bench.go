package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/exchange-gov/exchange/exchange/tools/bench"
)

func init() {
	register("bench", "measure the exchange against a raw Kafka pass-through on the same broker", runBench)
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("exchange bench", flag.ContinueOnError)
	records := fs.Int("records", 1_000_000, "reference records to publish (~5% invalid)")
	brokers := fs.String("brokers", "", "Kafka bootstrap brokers, comma-separated (default: an embedded broker)")
	database := fs.String("database", os.Getenv("EXCHANGE_DATABASE_URL"), "store URL for the ledger (default: SQLite in a temp dir; env EXCHANGE_DATABASE_URL)")
	partitions := fs.Int("partitions", 3, "partitions of the ingress topic")
	processes := fs.Int("processes", 1, "exchange instances run in the bench, members of one worker group on one store (scale-out overhead; use with --partitions)")
	useSASL := fs.Bool("sasl", false, "the embedded broker authenticates every client with SASL/SCRAM-SHA-512 and enforces ACLs (compare with and without)")
	latencyRates := fs.String("latency-rates", "1000,half", "rates of the e2e latency probes, comma-separated: records a second, or \"half\" (half the exchange's measured rate to index caught up)")
	compression := fs.String("compression", "", "worker.produce_compression of the exchange: none, snappy, lz4, zstd or gzip (default none)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the exchange phase (not the publish or raw phases) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rates, err := bench.ParseLatencyRates(*latencyRates)
	if err != nil {
		return fmt.Errorf("--latency-rates: %w", err)
	}
	cfg := bench.Config{Records: *records, DatabaseURL: *database, Partitions: *partitions, Processes: *processes, SASL: *useSASL, LatencyRates: rates, Out: os.Stdout}
	cfg.Tuning.ProduceCompression = *compression
	if err := cfg.Tuning.Validate(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.OnExchangePhase = func(start bool) {
			if start {
				_ = pprof.StartCPUProfile(f)
			} else {
				pprof.StopCPUProfile()
			}
		}
	}
	var bl []string
	if *brokers != "" {
		bl = strings.Split(*brokers, ",")
	}
	cfg.Brokers = bl
	_, err = bench.Run(ctx, cfg)
	return err
}
