package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// flagOut is one refused audit entry as `exchange audit flags` prints it.
type flagOut struct {
	Topic     string    `json:"topic,omitempty"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail"`
	Evidence  int       `json:"evidence_bytes"`
	FlaggedAt time.Time `json:"flagged_at"`
}

// auditFlagsCmd prints the entries the audit indexer refused (ledger
// flags), newest first, with their total.
func auditFlagsCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs, dbURL := auditFlags("flags", stderr)
	limit := fs.Int("limit", 100, "flags to print, newest first (at most 10000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *limit < 1 || *limit > 10000 {
		fs.Usage()
		return exitError{2}
	}
	target, err := auditStore(*dbURL, stderr)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, target.url)
	if err != nil {
		return err
	}
	defer db.Close()
	fr, ok := any(db).(ledger.FlagReader)
	if !ok {
		return errors.New("this store keeps no audit index flags")
	}
	flags, total, err := fr.Flags(ctx, *limit)
	if err != nil {
		return fmt.Errorf("reading the audit index flags: %w", err)
	}
	out := struct {
		Total int64     `json:"total"`
		Flags []flagOut `json:"flags"`
	}{Total: total, Flags: make([]flagOut, len(flags))}
	for i, f := range flags {
		out.Flags[i] = flagOut{Topic: f.Topic, Partition: f.Partition, Offset: f.Offset, Reason: f.Reason, Detail: f.Detail,
			Evidence: len(f.Entry), FlaggedAt: f.FlaggedAt}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
