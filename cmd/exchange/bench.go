package main

import (
	"context"
	"flag"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/exchange-gov/exchange/exchange/bench"
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
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var bl []string
	if *brokers != "" {
		bl = strings.Split(*brokers, ",")
	}
	_, err := bench.Run(ctx, bench.Config{Records: *records, Brokers: bl, DatabaseURL: *database, Partitions: *partitions, Out: os.Stdout})
	return err
}
