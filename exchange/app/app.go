package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/exchange-gov/exchange/connectors/httpingest"
	"github.com/exchange-gov/exchange/connectors/outbox"
	"github.com/exchange-gov/exchange/connectors/webhook"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/activity"
	"github.com/exchange-gov/exchange/exchange/deliverysig"
	"github.com/exchange-gov/exchange/exchange/indexer"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server"
	"github.com/exchange-gov/exchange/exchange/server/auditapi"
	"github.com/exchange-gov/exchange/exchange/server/catalogapi"
	"github.com/exchange-gov/exchange/exchange/stewardship"
	"github.com/exchange-gov/exchange/exchange/store"
	_ "github.com/exchange-gov/exchange/exchange/store/postgres" // postgres:// URLs
	_ "github.com/exchange-gov/exchange/exchange/store/sqlite"   // sqlite:// URLs
	"github.com/exchange-gov/exchange/exchange/timeliness"
	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// Config is what an exchange process needs. Zero values take the defaults
// named on each field.
type Config struct {
	// Kafka is the cluster (brokers required), the consumer group and the
	// layout of created topics; its zero fields take exchange.KafkaConfig's
	// defaults. Every Kafka client of the process is built from it.
	Kafka        exchange.KafkaConfig
	DatabaseURL  string // postgres://… or sqlite:///path; required
	ContractsDir string // contracts and agreements (*.yaml); required
	// RegisterSchemaFiles registers every <subject>.avsc of ContractsDir
	// (dev mode). Default false: schemas arrive through /registry.
	RegisterSchemaFiles bool
	KeyFile             string        // master key of pseudonyms; required
	CreateKey           bool          // create KeyFile when missing (dev mode only)
	SigningKeyFile      string        // Ed25519 ledger checkpoint key; "" = no checkpoints
	Workers             int           // record workers in this process; default 1
	ReloadInterval      time.Duration // how often the contracts directory is polled; default 1s
	Logger              *slog.Logger
	// Metrics registry; default a new one with Go and process collectors.
	Metrics *prometheus.Registry
	// TracerProvider for batch spans; default no-op.
	TracerProvider trace.TracerProvider
	// Worker tunes the record workers; zero values take the defaults
	// (exchange.DefaultTuning).
	Worker exchange.Tuning
	// HTTP is who may call the HTTP surface; New refuses a zero value
	// (no authentication) unless HTTP.Insecure.
	HTTP HTTPSecurity
	// ActivityInterval is how often the activity log summarises the
	// records that flowed (package activity); default 10s, negative: no
	// activity log.
	ActivityInterval time.Duration
	// Timeliness tunes silence detection, the SLA aggregates and notices;
	// zero values take the defaults.
	Timeliness TimelinessConfig
	// SeedFromFiles lets an agreement id the store has never seen take
	// its file's status and approvals, once ("seeded from file"): dev
	// mode, and serve --seed-from-files to migrate an existing estate.
	// Default false: a new id is recorded as proposed with no approvals,
	// whatever its file says.
	SeedFromFiles bool
	// HTTPIngest is the HTTP ingest connector (connectors.http_ingest):
	// mounted, and its WRITE on ingress topics granted, only when Enabled.
	HTTPIngest httpingest.Config
	// Outboxes are agencies' outbox connectors run in this process
	// (connectors/outbox; exchange.yaml connectors: outboxes:).
	Outboxes []outbox.Config
	// Webhooks are the webhook connectors run in the process (each as its
	// consumer agency, with its own Kafka credentials); default none.
	Webhooks []webhook.Endpoint
	// Console: how the governance console at /console/ signs people in.
	Console ConsoleConfig
}

// TimelinessConfig tunes package timeliness in the app.
type TimelinessConfig struct {
	// CheckInterval: how often silences are looked for; default
	// timeliness.DefaultCheckInterval.
	CheckInterval time.Duration
	// FlushInterval: how often the aggregates go to the store; default
	// timeliness.DefaultFlushInterval.
	FlushInterval time.Duration
	// NoticesPerMinute: individual quarantine notices per dataset per
	// minute; default timeliness.DefaultNoticesPerMinute.
	NoticesPerMinute int
	// NoticeWindow is that "minute" (tests shorten it); default 1m.
	NoticeWindow time.Duration
}

// App is an assembled exchange, ready to Run.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       store.Backend
	reg      *schemas.Registry
	holder   *policy.Holder
	builder  *planBuilder
	keys     *Keys
	http     *server.Server
	metrics  *exchange.Metrics
	activity *activity.Log  // nil: no activity log
	changes  chan struct{}  // registry changed; buffered 1, never closed
	acls     *aclReconciler // nil unless kafka.manage_acls
	// gate and expirer enforce the stored agreement states (lifecycle.go);
	// nil with a store that keeps none.
	gate    *exchange.Gate
	expirer *expirer
	authz   *authorizer
	// timeliness: SLA aggregates and quarantine notices (an activity
	// observer), silence detection, and the notices producer.
	aggregator *timeliness.Aggregator
	monitor    *timeliness.Monitor
	notices    *timeliness.KafkaProducer
	ingest     ingest               // HTTP ingest; zero when disabled
	catalog    *catalogapi.Handler  // the catalog and access requests
	imports    *kafkaclient.Clients // reads ingress topics for the import lookup
	reloads    prometheus.Counter
	failures   prometheus.Counter
	webhooks   *webhook.Metrics // nil without webhooks
	mu         sync.Mutex
	// reloading serialises Reload: it is exported, and the reload loop, a
	// state change and callers may ask at once; what it reads of the
	// builder after a build must be that build's.
	reloading sync.Mutex
	lastErr   error // last reload failure, nil after a good reload

	// steward runs the agreement lifecycle (issue 13): steward actions,
	// the file sync, the agreements API.
	steward  *stewardship.Service
	notifier *timeliness.Notifier
	tmetrics *timeliness.Metrics
	// checkpointKey verifies ledger checkpoints (console); nil without
	// SigningKeyFile.
	checkpointKey ed25519.PublicKey

	// consoleKafka: the console's Kafka clients (quarantine reads); nil
	// until the console is mounted.
	consoleKafka *kafkaclient.Clients

	// indexer builds the SQL ledger from the audit topic; indexLag says
	// how far behind it is (workers pause past worker.max_index_lag).
	indexer      *indexer.Indexer
	indexLag     *indexer.LagWatch
	indexClients *kafkaclient.Clients
}

// New opens the store, the registry and the keys, and compiles the first
// plan. A contracts directory with problems is an error listing them all;
// a dataset whose schemas do not compile is quarantined instead (logged,
// and named on /readyz), so a registry write can never keep the exchange
// from starting.
func New(ctx context.Context, cfg Config) (*App, error) {
	cfg.Kafka = cfg.Kafka.WithDefaults()
	if err := cfg.Kafka.Validate(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL == "" || cfg.ContractsDir == "" || cfg.KeyFile == "" {
		return nil, errors.New("database URL, contracts directory and key file are required")
	}
	if err := cfg.HTTP.check(); err != nil {
		return nil, err
	}
	cfg.Logger, cfg.Metrics, cfg.TracerProvider = telemetryDefaults(cfg.Logger, cfg.Metrics, cfg.TracerProvider)
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = time.Second
	}
	a := &App{cfg: cfg, log: cfg.Logger, holder: &policy.Holder{}, changes: make(chan struct{}, 1)}
	keys, err := LoadOrCreateKeys(cfg.KeyFile, cfg.CreateKey)
	if err != nil {
		return nil, err
	}
	a.keys = keys
	var storeOpts []store.Option
	storeOpts = append(storeOpts, store.WithLogger(cfg.Logger))
	if cfg.SigningKeyFile != "" {
		key, err := ledger.LoadOrCreateKey(cfg.SigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ledger signing key: %w", err)
		}
		storeOpts = append(storeOpts, store.WithSigningKey(key))
		a.checkpointKey = key.Public().(ed25519.PublicKey)
	}
	a.db, err = store.Open(ctx, cfg.DatabaseURL, storeOpts...)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", store.Redact(cfg.DatabaseURL), err)
	}
	a.reg = a.newRegistry()
	if err := a.newNotifier(); err != nil {
		a.db.Close()
		return nil, err
	}
	a.steward = stewardship.New(a.db, stewardship.WithNotifier(a.notifier), stewardship.WithLogger(cfg.Logger.With("component", "stewardship")))
	a.builder = &planBuilder{
		dir: cfg.ContractsDir, registerDir: cfg.RegisterSchemaFiles, reg: a.reg,
		docs: a.db, keys: keys, log: cfg.Logger,
		steward: a.steward, seed: cfg.SeedFromFiles,
	}
	if err := a.startLifecycle(ctx); err != nil {
		a.db.Close()
		return nil, err
	}
	plan, err := a.builder.buildWithStates(ctx)
	if err != nil {
		a.db.Close()
		return nil, err
	}
	a.holder.Store(plan)
	a.authz = &authorizer{plan: a.holder.Load}
	a.authz.setAgencies(a.builder.set)
	a.logPlan("plan loaded", plan)
	// Registering the derived schemas just notified a change that the plan
	// already reflects.
	select {
	case <-a.changes:
	default:
	}

	a.metrics = exchange.NewMetrics(cfg.Metrics)
	if cfg.ActivityInterval >= 0 {
		a.activity = activity.New(cfg.Logger, cfg.ActivityInterval)
	}
	a.reloads, a.failures = reloadMetrics(cfg.Metrics)
	if err := errors.Join(a.newIndexer(), a.newTimeliness(), a.startACLSync(), a.newIngest(), a.newWebhooks(), a.newImports()); err != nil {
		a.closeIngest()
		a.closeImports()
		a.db.Close()
		return nil, err
	}
	if err := a.mountHTTP(ctx); err != nil {
		a.closeIngest()
		a.db.Close()
		return nil, err
	}
	a.addReadyChecks()
	a.reportBroken(plan)
	a.reportLeftOut()
	return a, nil
}

// telemetryDefaults are Config's defaults of the logger (slog.Default),
// the metrics registry (a new one with Go and process collectors) and the
// tracer provider (no-op), for what was not given.
func telemetryDefaults(log *slog.Logger, reg *prometheus.Registry, tp trace.TracerProvider) (*slog.Logger, *prometheus.Registry, trace.TracerProvider) {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return log, reg, tp
}

// mountHTTP builds the HTTP surface: the registry, the audit API, the
// console, and the index of them at / (Surfaces).
func (a *App) mountHTTP(ctx context.Context) error {
	a.http = server.New(a.log, a.cfg.Metrics, a.cfg.HTTP.serverOptions()...)
	a.cfg.HTTP.secure(a.http)
	a.http.Mount("/registry", registryhttp.Handler(a.reg, a.log, registryhttp.WithAuthorize(a.authz.registry)))
	a.http.ConfluentErrors("/registry")
	api := auditapi.New(a.db, auditapi.WithAgreements(auditapi.AgreementsFromStore(a.db)), auditapi.WithLogger(a.log),
		auditapi.WithTimeliness(a.db), auditapi.WithScope(a.authz.auditScope), auditapi.WithAccessLog(accessLog(a.db)),
		auditapi.WithIndexWait(a.WaitIndexed))
	a.http.Handle("GET /api/v1/audit", api.Audit())
	a.http.Handle("GET /api/v1/lineage", api.Lineage())
	a.http.Handle("GET /api/v1/openapi.json", api.OpenAPI())
	pub := a.keys.DeliverySigningKey().Public().(ed25519.PublicKey)
	a.http.Handle("GET /api/v1/delivery-keys", auditapi.DeliveryKeys(deliverysig.Publish(pub)))
	a.http.Handle("GET /api/v1/sla", api.SLA())
	a.http.Handle("GET /api/v1/sla/events", api.SLAEvents())
	a.http.Handle("GET /api/v1/notices", api.Notices())
	a.mountAgreements()
	a.mountIngest()
	a.mountCatalog()
	a.mountImports()
	if err := a.mountConsole(ctx, api); err != nil {
		return err
	}
	for _, sf := range Surfaces {
		a.http.Describe(sf.Path, sf.Description)
	}
	return nil
}

// Surfaces are the paths New mounts beyond the server's own (/healthz,
// /readyz, /metrics), as the index at / and the dev banner list them.
var Surfaces = []server.Surface{
	{Path: "/registry", Description: "schema registry, Confluent REST API (schema.registry.url=http://HOST/registry)"},
	{Path: "/api/v1/audit", Description: "audit ledger entries (?dataset=, ?decision=quarantined, ?limit=)"},
	{Path: "/api/v1/lineage", Description: "where a record came from and everywhere it went (?delivery_id=)"},
	{Path: "/api/v1/sla", Description: "SLA compliance per day: on time, stale, quarantined, lag p50/p95, silence minutes (?dataset=, ?agreement=, ?from=, ?to=)"},
	{Path: "/api/v1/sla/events", Description: "silences of datasets without a record for their expected_every (?dataset=, ?from=, ?to=)"},
	{Path: "/api/v1/notices", Description: "what an agency was told on notices.<agency> (?agency=, ?since=)"},
	{Path: "/api/v1/agreements", Description: "agreements with their state, approvals and history; steward actions: propose, approve, suspend, resume, revoke"},
	{Path: "/api/v1/catalog", Description: "datasets agencies may request access to, and the access requests (/api/v1/catalog/requests)"},
	{Path: "/api/v1/openapi.json", Description: "OpenAPI 3.1 document of /api/v1"},
	{Path: "/api/v1/delivery-keys", Description: "the keys that verify deliveries' exchange-signature (JWK set)"},
	{Path: "/console/", Description: "governance console (browser): flows, audit search, data subject report, integrity"},
}

// newRegistry is the registry over the store: a change asks for a plan
// rebuild, and a version that would break the plan in force is refused.
func (a *App) newRegistry() *schemas.Registry {
	return schemas.NewRegistry(a.db.Schemas(), schemas.WithLogger(a.log), schemas.WithOnChange(func(string) {
		select {
		case a.changes <- struct{}{}:
		default: // a rebuild is already pending
		}
	}), schemas.WithGuard(a.guardSchema))
}

// guardSchema refuses a new schema version that would break the plan in
// force (policy.Plan.CheckSchema), whatever the subject's compatibility
// level. Before the first plan (dev mode registers the schema files first)
// there is nothing to break.
func (a *App) guardSchema(_ context.Context, subject string, candidate avro.Schema) error {
	plan := a.holder.Load()
	if plan == nil {
		return nil
	}
	return plan.CheckSchema(subject, candidate)
}

// reportBroken logs each dataset the plan quarantines because its schemas
// do not compile, and names them under "plan" in /readyz's details. The
// exchange stays ready: it serves every other dataset, and the broken
// one's records are quarantined, not lost.
func (a *App) reportBroken(plan *policy.Plan) {
	var details []string
	for _, b := range plan.Broken() {
		a.log.Error("dataset quarantined: its schemas do not compile with its contract and agreements; register a version that fits them or delete the one that broke them",
			"dataset", b.Dataset, "subject", b.Subject, "problems", b.Problems.Error())
		details = append(details, b.Detail)
	}
	a.http.SetDetail("plan", strings.Join(details, "; "))
}

// reloadMetrics registers the counters of plan reloads and refused ones.
func reloadMetrics(reg prometheus.Registerer) (reloads, failures prometheus.Counter) {
	reloads = prometheus.NewCounter(prometheus.CounterOpts{Name: "exchange_plan_reloads_total", Help: "Plans compiled and swapped in after a change of contracts, agreements or schemas."})
	failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "exchange_plan_reload_failures_total", Help: "Reloads refused because the changed policy has problems; the previous plan stays in force."})
	reg.MustRegister(reloads, failures)
	return reloads, failures
}

// startACLSync builds the ACL reconciler with kafka.manage_acls and gives
// it the first plan's documents; Run runs it.
func (a *App) startACLSync() error {
	if !a.cfg.Kafka.ManageACLs {
		return nil
	}
	var err error
	if a.acls, err = newACLReconciler(a.cfg.Kafka, a.cfg.HTTPIngest.Enabled, a.log, a.cfg.Metrics); err != nil {
		return err
	}
	a.acls.update(a.builder.set)
	return nil
}

// addReadyChecks makes /readyz report the store, the plan, the first
// Kafka broker (reachable over TCP) and, with kafka.manage_acls, the ACL
// sync.
func (a *App) addReadyChecks() {
	a.http.AddCheck("store", a.db.Ping)
	a.http.AddCheck("plan", func(context.Context) error {
		if a.holder.Load() == nil {
			return errors.New("no plan loaded")
		}
		return nil
	})
	a.http.AddCheck("kafka", brokerReachable(a.cfg.Kafka.Brokers[0]))
	a.http.AddCheck("audit_index", a.indexReady)
	if a.acls != nil {
		a.http.AddCheck("kafka_acls", a.acls.ready)
	}
	if a.gate != nil {
		a.http.AddCheck("agreement_states", a.gate.Ready)
	}
}

// brokerReachable is the readiness check of a Kafka broker: it accepts a
// TCP connection.
func brokerReachable(broker string) server.Check {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", broker)
		if err != nil {
			return fmt.Errorf("kafka %s: %w", broker, err)
		}
		return c.Close()
	}
}

// Config is the configuration New was given, with its defaults applied.
func (a *App) Config() Config { return a.cfg }

// Plan is the plan in force.
func (a *App) Plan() *policy.Plan { return a.holder.Load() }

// Registry is the schema registry.
func (a *App) Registry() *schemas.Registry { return a.reg }

// Store is the database.
func (a *App) Store() store.Backend { return a.db }

// HTTP is the HTTP surface, for mounting more handlers before Run.
func (a *App) HTTP() http.Handler { return a.http }

// Server is the HTTP server, for mounting more handlers before Run.
func (a *App) Server() *server.Server { return a.http }

// Topics are the topics the current plan reads and writes.
func (a *App) Topics() []string { return exchange.Topics(a.holder.Load()) }

// Close releases the store and the notices producer. Run closes nothing
// itself.
func (a *App) Close() error {
	a.catalog.Drain() // its notices go out through the producer and the store
	a.closeImports()
	a.closeConsole()
	if a.indexClients != nil {
		a.indexClients.Close()
	}
	return errors.Join(a.closeIngest(), a.notices.Close(), a.db.Close())
}

// Run serves HTTP on ln and runs the workers, the plan reloader and (with
// kafka.manage_acls) the ACL sync until ctx is cancelled or one of them
// fails; the first failure stops all.
func (a *App) Run(ctx context.Context, ln net.Listener) error {
	g := newGroup(ctx, a.log)
	run := g.run
	for i := 0; i < a.cfg.Workers; i++ {
		w, err := a.newWorker(i)
		if err != nil {
			g.cancel(err)
			return errors.Join(err, g.wait())
		}
		run(fmt.Sprintf("worker %d", i), w.Run)
	}
	run("plan reloader", a.reloadLoop)
	run("audit indexer", a.runIndexer)
	run("audit index lag", a.indexLag.Run)
	if a.gate != nil {
		run("lifecycle gate", a.gate.Run)
		run("expiry timer", a.expirer.run)
	}
	run("timeliness aggregator", a.aggregator.Run)
	run("silence monitor", a.monitor.Run)
	if a.activity != nil {
		run("activity log", a.activity.Run)
	}
	if a.acls != nil {
		run("acl sync", a.acls.run)
	}
	if a.IngestEnabled() {
		run("http ingest key purge", a.runIngest)
	}
	for _, o := range a.cfg.Outboxes {
		run("outbox connector of "+o.Agency, func(ctx context.Context) error { return a.runOutbox(ctx, o) })
	}
	if a.webhooks != nil {
		run("webhooks", func(ctx context.Context) error {
			return webhook.RunAll(ctx, a.cfg.Webhooks, webhook.Logger(a.log), webhook.WithMetrics(a.webhooks))
		})
	}
	g.serveHTTP(a.http, ln, a.cfg.HTTP.MetricsListener)
	first := g.wait()
	if a.activity != nil {
		a.activity.Flush() // what the workers' drain audited after the log's last tick
	}
	fctx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancelFlush()
	a.aggregator.Flush(fctx, time.Now()) // likewise for the SLA aggregates
	return first
}

// newWebhooks checks the webhook connectors' configuration (Run starts
// them) and registers their metrics.
func (a *App) newWebhooks() error {
	if len(a.cfg.Webhooks) == 0 {
		return nil
	}
	if err := webhook.ValidateAll(a.cfg.Webhooks); err != nil {
		return err
	}
	var err error
	a.webhooks, err = webhook.NewMetrics(a.cfg.Metrics)
	return err
}

// newWorker builds record worker i from the Kafka block and the tuning,
// passed whole; each worker builds its own kafka-go clients from them.
func (a *App) newWorker(i int) (*exchange.Worker, error) {
	opts := []exchange.Option{
		exchange.WithLogger(a.log.With("worker", i)),
		exchange.WithMetrics(a.metrics),
		exchange.WithTracerProvider(a.cfg.TracerProvider),
		exchange.WithRecordKeys(a.recordKeys()),
	}
	var observers fanout
	if a.activity != nil {
		observers = append(observers, a.activity)
	}
	observers = append(observers, a.aggregator)
	opts = append(opts, exchange.WithActivity(observers))
	if a.gate != nil {
		opts = append(opts, exchange.WithGate(a.gate))
	}
	opts = append(opts, exchange.WithIndexLag(workerLag{a.indexLag}))
	w, err := exchange.NewWorker(exchange.WorkerConfig{Kafka: a.cfg.Kafka, Tuning: a.cfg.Worker}, a.holder, a.db, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating worker: %w", err)
	}
	return w, nil
}

// recordKeys are the record path's keys, derived from the master key.
func (a *App) recordKeys() exchange.RecordKeys {
	return exchange.RecordKeys{
		DeliveryKey: a.keys.DeliveryKey,
		KeyHash:     a.keys.KeyHashKey(),
		Signer:      deliverysig.NewSigner(a.keys.DeliverySigningKey()),
	}
}

// reloadLoop rebuilds the plan when the contracts directory, the registry
// or the stored agreement states change. A plan with problems is refused
// and the one in force stays.
func (a *App) reloadLoop(ctx context.Context) error {
	return watchPolicy(ctx, a.builder, a.cfg.ReloadInterval, a.changes, a.log, func(ctx context.Context) { _ = a.Reload(ctx) })
}

// LastReloadError is the problem that kept the previous plan in force at
// the last reload, nil when it succeeded.
func (a *App) LastReloadError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastErr
}

// Reload rebuilds the plan now; it returns the error that kept the old plan.
func (a *App) Reload(ctx context.Context) error {
	a.reloading.Lock()
	defer a.reloading.Unlock()
	plan, err := a.builder.buildWithStates(ctx)
	a.mu.Lock()
	a.lastErr = err
	a.mu.Unlock()
	if err != nil {
		a.failures.Inc()
		a.log.Error("policy change refused; the previous plan stays in force", "err", err)
		return err
	}
	old := a.holder.Load()
	a.holder.Store(plan)
	a.authz.setAgencies(a.builder.set)
	if a.acls != nil {
		a.acls.update(a.builder.set) // never waits on Kafka
	}
	a.reloads.Inc()
	if old == nil || old.Version() != plan.Version() {
		a.logPlan("plan reloaded", plan)
	}
	a.reportBroken(plan)
	a.reportLeftOut()
	return nil
}

// logPlan logs the plan now in force and which documents and schema
// versions changed (names only, never a value), so an operator reading the
// log, or an auditor reading a new plan version in the ledger, sees why.
func (a *App) logPlan(msg string, plan *policy.Plan) {
	attrs := []any{"version", plan.Version(), "datasets", len(plan.Datasets())}
	if ch := a.builder.changes; len(ch) > 0 {
		attrs = append(attrs, "changed", strings.Join(ch, "; "))
	}
	a.log.Info(msg, attrs...)
}
