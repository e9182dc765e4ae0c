package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/config"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

func init() {
	register("acl", "print, apply or export the Kafka ACLs compiled from agencies, contracts and agreements", runACL)
}

const aclUsage = `usage:
  exchange acl plan --contracts DIR [--at TIME] [--principal P] [--group G]
  exchange acl apply --config exchange.yaml [--dry-run] [--at TIME]
  exchange acl export --format strimzi --contracts DIR [--cluster NAME] [--namespace NS] [--at TIME] [--principal P] [--group G]

plan prints the ACLs the policy grants at TIME (default now), one a line in
Kafka's words: principal, resource type, pattern, name, operation,
permission, host. The exchange is granted ALTER on the cluster, as apply
needs it.

apply reconciles the cluster of the configuration's kafka block with them
through the admin API: it creates what is missing and deletes what the
exchange manages and no longer grants; ACLs it does not manage are left
alone (those on the exchange's topics are listed with "!"). Lines: "+ "
created, "- " deleted. --dry-run prints the same without changing anything.
It connects with the kafka block's credentials: a principal with ALTER on
the cluster (a super user the first time).

export --format strimzi writes one KafkaUser (kafka.strimzi.io/v1beta2,
SCRAM-SHA-512, authorization simple) per agency and one for the exchange, as
multi-document YAML for clusters run by Strimzi (its User Operator owns the
ACLs there, so the exchange gets no ALTER on the cluster).
`

func runACL(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, aclUsage)
		return exitError{2}
	}
	switch args[0] {
	case "plan":
		return aclPlan(os.Stdout, os.Stderr, args[1:])
	case "apply":
		return aclApply(ctx, os.Stdout, os.Stderr, args[1:])
	case "export":
		return aclExport(os.Stdout, os.Stderr, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, aclUsage)
		return nil
	default:
		fmt.Fprintf(os.Stderr, "exchange acl: unknown subcommand %q\n\n%s", args[0], aclUsage)
		return exitError{2}
	}
}

// policyFlags are the flags of plan and export: where the policy is, when,
// and the exchange's side.
type policyFlags struct {
	contracts, at, principal, group string
	httpIngest                      bool
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.contracts, "contracts", "", "directory of agencies, contracts and agreements (*.yaml)")
	fs.StringVar(&p.at, "at", "", "the time the ACLs are compiled for (RFC 3339); default now")
	fs.StringVar(&p.principal, "principal", exchange.DefaultPrincipal, "the exchange's Kafka principal")
	fs.StringVar(&p.group, "group", names.DefaultGroup, "the exchange's consumer group")
	fs.BoolVar(&p.httpIngest, "http-ingest", false, "the exchange runs HTTP ingest (connectors.http_ingest): grant it WRITE on each dataset's ingress topic")
}

func newACLFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("acl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, aclUsage+"\nflags of "+name+":\n"); fs.PrintDefaults() }
	return fs
}

func aclPlan(stdout, stderr io.Writer, args []string) error {
	fs := newACLFlags("plan", stderr)
	var pf policyFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	set, at, err := pf.load(stdout, stderr)
	if err != nil {
		return err
	}
	rules := acl.Compile(set, at, acl.Options{ExchangePrincipal: pf.principal, ExchangeGroup: pf.group, ManageACLs: true, HTTPIngest: pf.httpIngest})
	return acl.WriteTable(stdout, rules)
}

func aclExport(stdout, stderr io.Writer, args []string) error {
	fs := newACLFlags("export", stderr)
	var pf policyFlags
	pf.register(fs)
	format := fs.String("format", "", "output format: strimzi")
	cluster := fs.String("cluster", "kafka", "the Strimzi Kafka cluster (label strimzi.io/cluster)")
	namespace := fs.String("namespace", "", "namespace of the KafkaUsers (default: none written)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *format != "strimzi" {
		fmt.Fprintf(stderr, "exchange acl export: --format %q: the one format is strimzi\n", *format)
		return exitError{2}
	}
	set, at, err := pf.load(stdout, stderr)
	if err != nil {
		return err
	}
	rules := acl.Compile(set, at, acl.Options{ExchangePrincipal: pf.principal, ExchangeGroup: pf.group, HTTPIngest: pf.httpIngest})
	return acl.WriteStrimzi(stdout, rules, acl.StrimziOptions{Cluster: *cluster, Namespace: *namespace})
}

// load reads and validates the policy and parses --at; problems are
// printed like `agreement validate` prints them.
func (p *policyFlags) load(stdout, stderr io.Writer) (*agreements.Set, time.Time, error) {
	if p.contracts == "" {
		fmt.Fprintln(stderr, "exchange acl: --contracts DIR is required")
		return nil, time.Time{}, exitError{2}
	}
	at, err := parseAt(p.at)
	if err != nil {
		return nil, time.Time{}, err
	}
	set, err := loadPolicy(stdout, stderr, p.contracts)
	return set, at, err
}

func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-12-01T00:00:00Z", s)
	}
	return at, nil
}

// loadPolicy loads and validates dir: ACLs of a policy with problems are
// not computed (the exchange would not run it either).
func loadPolicy(stdout, stderr io.Writer, dir string) (*agreements.Set, error) {
	set, probs, err := agreements.ValidateFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stderr, "%d problem(s): no ACLs computed\n", len(probs))
		return nil, exitError{1}
	}
	return set, nil
}

func aclApply(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newACLFlags("apply", stderr)
	cfgPath := fs.String("config", "", "exchange.yaml (environment variables EXCHANGE_* override it)")
	dryRun := fs.Bool("dry-run", false, "print the changes without making them")
	atFlag := fs.String("at", "", "the time the ACLs are compiled for (RFC 3339); default now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	at, err := parseAt(*atFlag)
	if err != nil {
		return err
	}
	set, err := loadPolicy(stdout, stderr, cfg.Contracts.Dir)
	if err != nil {
		return err
	}
	kc, err := kafkaclient.New(cfg.Kafka.Config)
	if err != nil {
		return err
	}
	defer kc.Close()
	opt := acl.Options{ExchangePrincipal: cfg.Kafka.ExchangePrincipal(), ExchangeGroup: cfg.Kafka.GroupID, ManageACLs: true,
		HTTPIngest: cfg.Connectors.HTTPIngest.Enabled}
	ch, err := aclsync.Sync(ctx, kc, set, at, opt, *dryRun)
	if werr := acl.WriteChanges(stdout, ch); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		return err
	}
	verb := "applied"
	if *dryRun {
		verb = "dry run"
	}
	fmt.Fprintf(stderr, "%s: %d to create, %d to delete, %d unmanaged on the exchange's topics left alone\n", verb, len(ch.Create), len(ch.Delete), len(ch.Foreign))
	return nil
}
