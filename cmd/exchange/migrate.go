package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres" // postgres:// URLs
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"   // sqlite: URLs
)

func init() {
	register("migrate", "apply the database migrations (idempotent)", func(ctx context.Context, args []string) error {
		return runMigrate(ctx, os.Stdout, os.Stderr, args)
	})
}

// databaseEnv is read when --database is not given.
const databaseEnv = "EXCHANGE_DATABASE_URL"

const migrateUsage = `usage: exchange migrate --database URL

Applies the migrations embedded in this binary that the database has not
seen yet, each in its own transaction, and prints one "applied NAME" line per
migration. Running it again is a no-op; concurrent runs wait for each other.
URL is postgres://… or sqlite:///path/to/file.db (default $EXCHANGE_DATABASE_URL).
`

// databaseFlag adds --database with $EXCHANGE_DATABASE_URL as default.
func databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database", os.Getenv(databaseEnv), "store URL: postgres://… or sqlite:///path/file.db (env "+databaseEnv+")")
}

func runMigrate(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, migrateUsage+"\nflags:\n"); fs.PrintDefaults() }
	dbURL := databaseFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	db, err := store.Open(ctx, *dbURL, store.WithoutMigrate())
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is current")
	}
	return nil
}
