package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange/activity"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/tools/demo"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
	"github.com/exchange-gov/exchange/exchange/tools/devissuer"
	"github.com/exchange-gov/exchange/policy"
)

func init() {
	register("dev", "run the whole exchange in one process on embedded defaults (what `make run` runs)", runDev)
}

// devWebhooks loads the --webhooks file; none without one.
func devWebhooks(path string) ([]webhook.Endpoint, error) {
	if path == "" {
		return nil, nil
	}
	f, err := webhook.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--webhooks: %w", err)
	}
	return f.Webhooks, nil
}

func runDev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("exchange dev", flag.ContinueOnError)
	kafkaAddr := fs.String("kafka-addr", "127.0.0.1:9092", "listen address of the embedded Kafka broker")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "listen address of the HTTP server (/ lists its surfaces: /registry, /api/v1/…, /metrics, /healthz, /readyz)")
	dataDir := fs.String("data-dir", devDataDir, "directory holding all state: broker data, the SQLite store, keys")
	contracts := fs.String("contracts", "deploy/examples", "directory of contracts and agreements (*.yaml) and schemas (<subject>.avsc)")
	demoOn := fs.Bool("demo", false, "publish realistic demo records (a few percent invalid or stale) to every dataset")
	demoRate := fs.Int("demo-rate", 20, "records per second published by --demo")
	partitions := fs.Int("partitions", 3, "partitions of the topics the exchange creates")
	otlpEndpoint := fs.String("otlp-endpoint", "", "export batch spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318); default none")
	insecure := fs.Bool("insecure", false, "run the embedded broker without authentication and ACLs (any client may read raw ingress and forge deliveries); for experiments only")
	verbose := fs.Bool("v", false, "debug logging")
	httpIngest := fs.Bool("http-ingest", true, "serve HTTP ingest (POST /api/v1/datasets/{dataset}/records) and grant the exchange WRITE on the ingress topics for it")
	webhooksFile := fs.String("webhooks", "", "run the webhook connectors of this file (the format of exchange connect webhook --config) inside the process")
	activityEvery := fs.Duration("activity-interval", activity.DefaultInterval, activityUsage)
	outboxes := outboxFlag(fs)
	usageWith(fs, devHelp)
	if err := fs.Parse(args); err != nil {
		return err
	}
	webhooks, err := devWebhooks(*webhooksFile)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	tp, flushTraces, err := startTracing(ctx, *otlpEndpoint, 1, log)
	if err != nil {
		return fmt.Errorf("--otlp-endpoint: %w", err)
	}
	defer flushTraces()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir %s: %w", *dataDir, err)
	}
	if fi, err := os.Stat(*contracts); err != nil || !fi.IsDir() {
		return fmt.Errorf("--contracts %s: not a directory (run from the repository root, or pass --contracts DIR)", *contracts)
	}
	ln, err := server.Listen(*httpAddr)
	if errors.Is(err, server.ErrAddrInUse) {
		return fmt.Errorf("--http-addr %s is already in use by another process; stop it or choose another address with --http-addr", *httpAddr)
	}
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	defer ln.Close()
	kafka, err := startDevKafka(ctx, devKafkaConfig{addr: *kafkaAddr, dataDir: *dataDir, contracts: *contracts,
		registry: "http://" + ln.Addr().String() + "/registry", partitions: *partitions, syncWrites: true, insecure: *insecure, httpIngest: *httpIngest, log: log})
	if err != nil {
		return err
	}
	defer kafka.Close()

	sec, err := devHTTPSecurity(ctx, *dataDir, *contracts, "http://"+ln.Addr().String(), log)
	if err != nil {
		return err
	}
	dbPath, _ := filepath.Abs(filepath.Join(*dataDir, devLedgerFile))
	a, err := app.New(ctx, app.Config{
		Kafka:               kafka.exchange,
		DatabaseURL:         "sqlite://" + dbPath,
		ContractsDir:        *contracts,
		RegisterSchemaFiles: true,
		KeyFile:             filepath.Join(*dataDir, devSecretKeyName),
		CreateKey:           true,
		SigningKeyFile:      filepath.Join(*dataDir, devSigningKeyFile),
		ActivityInterval:    activityInterval(*activityEvery),
		Logger:              log,
		TracerProvider:      tp,
		HTTP:                sec,
		SeedFromFiles:       true, // dev mode seeds: the examples carry their lifecycle
		HTTPIngest:          httpingest.Config{Enabled: *httpIngest},
		Outboxes:            *outboxes,
		Webhooks:            webhooks,
		// The console offers the dev identities; its cookies drop Secure
		// only on plain HTTP at a loopback address.
		Console: app.ConsoleConfig{DevTokens: devissuer.ConsoleTokens(devCredentialsDir(*dataDir)), PlainHTTPCookies: isLoopback(ln.Addr())},
	})
	if err != nil {
		return err
	}
	defer a.Close()

	kafka.warnIfInsecure(a)
	fmt.Fprint(os.Stderr, devBanner(kafka.view(), ln.Addr().String(), *dataDir, *contracts, a.Plan(), a.Topics(), a.Config().ActivityInterval))
	if *demoOn {
		go func() {
			if err := demo.Run(ctx, a, *demoRate, demo.As(kafka.agencyConfig)); err != nil {
				log.Error("demo generator stopped", "err", err)
			}
		}()
	}
	err = a.Run(ctx, ln)
	fmt.Fprintln(os.Stderr, "exchange dev: stopped cleanly; state kept in", *dataDir)
	return err
}

// devBanner is what exchange dev prints once it runs: every surface, the
// ledger and its keys, the topics, and the commands of the README's tour.
func devBanner(kafka devKafkaView, httpAddr, dataDir, contracts string, plan *policy.Plan, topics []string, activityEvery time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nExchange dev is running (Ctrl-C stops it cleanly).\n\n")
	if !kafka.secure {
		fmt.Fprintf(&b, "  !!! %s\n\n", devInsecureWarning)
	}
	fmt.Fprintf(&b, "  Kafka (embedded)   %s\n", kafka.addr)
	fmt.Fprintf(&b, "  Kafka credentials  %s\n", kafka.credentialsLine())
	b.WriteString(httpSurfaces("http://" + httpAddr))
	b.WriteString(devLedger(dataDir))
	fmt.Fprintf(&b, "  Policy             %s (plan %s: %d datasets)\n", contracts, plan.Version(), len(plan.Datasets()))
	if activityEvery > 0 {
		fmt.Fprintf(&b, "  Activity log       this terminal, every %s while records flow\n", activityEvery)
	}
	b.WriteString("\n")
	topics = slices.Clone(topics)
	sort.Strings(topics)
	fmt.Fprintf(&b, "Topics:\n")
	for _, t := range topics {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	writeDevCommands(&b, kafka, httpAddr, contracts, plan)
	verify := "go run ./cmd/exchange audit verify"
	if dataDir != devDataDir {
		verify += fmt.Sprintf(" --database sqlite:%s --public-key %s", filepath.ToSlash(filepath.Join(dataDir, devLedgerFile)), filepath.Join(dataDir, devSigningKeyFile+".pub"))
	}
	fmt.Fprintf(&b, "Verify the audit ledger (from this directory):\n  %s\n\n", verify)
	fmt.Fprintf(&b, "Call the HTTP API with a dev token (publish and consume use them by default):\n  %s\n\n", devCurl(dataDir, "http://"+httpAddr))
	return b.String()
}

// writeDevCommands writes the banner's copy-paste commands: publish the
// sample records as their owner agency, read an agreement's deliveries as
// its consumer (exchange consume, kcat, kafka-console-consumer.sh).
func writeDevCommands(b *strings.Builder, kafka devKafkaView, httpAddr, contracts string, plan *policy.Plan) {
	ds := "health.immunisations"
	if len(plan.Datasets()) > 0 && !slices.Contains(plan.Datasets(), ds) {
		ds = plan.Datasets()[0]
	}
	stamp, owner := "", ""
	if c, ok := plan.Contract(ds); ok {
		owner = c.Owner
		if c.Freshness != nil && c.Freshness.EventTime != "" {
			// The sample records carry fixed event times; stamping them now
			// keeps the freshness SLA from quarantining every one as stale.
			stamp = " --stamp-now " + c.Freshness.EventTime
		}
	}
	registry := "http://" + httpAddr + "/registry"
	fmt.Fprintf(b, "\nPublish the sample records as %s (in another terminal):\n", owner)
	fmt.Fprintf(b, "  go run ./cmd/exchange publish --dataset %s --file %s/records/%s.jsonl%s %s --registry %s\n\n",
		ds, contracts, ds, stamp, kafka.connectFlag(owner), registry)
	if kafka.httpIngest && owner != "" {
		fmt.Fprintf(b, "Or over HTTP, without a Kafka client (HTTP ingest; the JSON lines made one array):\n  %s\n\n",
			devIngestCurl(kafka.dataDir, "http://"+httpAddr, contracts, ds, owner))
	}
	for _, ag := range plan.Agreements(ds) {
		if ag.Status != agreements.StatusActive {
			continue
		}
		fmt.Fprintf(b, "See what %s receives (agreement %s):\n", ag.Consumer, ag.ID)
		fmt.Fprintf(b, "  go run ./cmd/exchange consume --agreement %s --from-beginning %s --registry %s\n", ag.ID, kafka.connectFlag(ag.Consumer), registry)
		if kafka.secure {
			topic := names.Deliver(ag.Consumer, ag.ID)
			file := devcreds.AgencyFile(kafka.dataDir, ag.Consumer)
			fmt.Fprintf(b, "  kcat -b %s -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=%s -X sasl.username=%s -X sasl.password=\"$(sed -n 's/^sasl.password=//p' %s)\" -C -t %s -o beginning -e\n",
				kafka.addr, devcreds.Mechanism, ag.Consumer, file, topic)
			fmt.Fprintf(b, "  kafka-console-consumer.sh --bootstrap-server %s --consumer.config %s --topic %s --group %s --from-beginning\n",
				kafka.addr, devcreds.JavaFile(kafka.dataDir, ag.Consumer), topic, names.GroupPrefixOf(ag.Consumer)+"console")
		}
		fmt.Fprintln(b)
		break
	}
}

// isLoopback reports whether addr is a loopback TCP address.
func isLoopback(addr net.Addr) bool {
	t, ok := addr.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}
