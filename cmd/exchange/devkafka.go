package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

// Dev mode's Kafka principals besides the agencies: the exchange runs as
// devExchangeUser (no super user: its own ACLs, ALTER on the cluster among
// them, so that it keeps them in step with the plan itself, as
// kafka.manage_acls does in production); devAdminUser is the super user
// that applies them once at start (and reads what no agency may, for
// `exchange consume --topic` in dev mode).
const (
	devExchangeUser = "exchange"
	devAdminUser    = "dev-admin"
	// devInsecureWarning is shown in the banner and on /readyz with --insecure.
	devInsecureWarning = "INSECURE: exchange dev --insecure: the embedded Kafka broker has no authentication and no ACLs; any Kafka client can read raw ingress and quarantine and forge deliveries"
)

// devKafkaConfig says how to run the embedded broker.
type devKafkaConfig struct {
	addr, dataDir, contracts string
	registry                 string // schema registry URL written in the agencies' files
	partitions               int
	syncWrites, insecure     bool
	httpIngest               bool // the exchange writes ingress topics for HTTP ingest (acl.Options.HTTPIngest)
	log                      *slog.Logger
}

// devKafka is the embedded broker with its identities: SASL/SCRAM and ACL
// enforcement, the exchange as User:exchange, every agency of the policy a
// user with its credentials under <data-dir>/credentials/.
type devKafka struct {
	cfg      devKafkaConfig
	broker   *devbroker.Broker
	exchange exchange.KafkaConfig // the exchange's kafka block (with SASL: manage_acls)
	admin    *kafkaclient.Clients // the dev super user; nil with --insecure
	users    []string             // agencies with a Kafka user (this start's)
}

// startDevKafka starts the broker; with SASL it also writes the
// credentials and applies the policy's ACLs, so the exchange can start.
func startDevKafka(ctx context.Context, cfg devKafkaConfig) (*devKafka, error) {
	opts := []devbroker.Option{devbroker.DataDir(filepath.Join(cfg.dataDir, "kafka")), devbroker.DefaultPartitions(cfg.partitions)}
	if cfg.syncWrites {
		// Every acknowledged record is on disk: a kill -9 loses nothing.
		opts = append(opts, devbroker.SyncWrites())
	}
	k := &devKafka{cfg: cfg}
	var set *agreements.Set
	var password func(user string) string
	if !cfg.insecure {
		var err error
		if set, err = agreements.LoadDir(cfg.contracts); err != nil {
			return nil, fmt.Errorf("loading %s: %w", cfg.contracts, err)
		}
		keys, err := app.LoadOrCreateKeys(filepath.Join(cfg.dataDir, devSecretKeyName), true)
		if err != nil {
			return nil, err
		}
		password = func(user string) string { return devcreds.Password(keys.DevSecret, user) }
		k.users = acl.Agencies(set)
		opts = append(opts, devbroker.SASL(devAdminUser, password(devAdminUser)), devbroker.User(devExchangeUser, password(devExchangeUser)))
		for _, id := range k.users {
			opts = append(opts, devbroker.User(id, password(id)))
		}
	}
	b, err := devbroker.Start(cfg.addr, opts...)
	if errors.Is(err, devbroker.ErrAddrInUse) {
		return nil, fmt.Errorf("--kafka-addr %s is already in use by another process (another Kafka?); stop it or choose another address with --kafka-addr", cfg.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("--kafka-addr: %w", err)
	}
	k.broker = b
	k.exchange = exchange.KafkaConfig{Config: kafkaclient.Config{Brokers: []string{b.Addr()}}, Partitions: cfg.partitions}
	if cfg.insecure {
		if err := devcreds.Remove(cfg.dataDir); err != nil {
			k.Close()
			return nil, err
		}
		return k, nil
	}
	if err := k.secure(ctx, set, password); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// secure writes the credentials, applies the ACLs of set and makes the
// exchange manage them from then on.
func (k *devKafka) secure(ctx context.Context, set *agreements.Set, password func(string) string) error {
	agencies := map[string]string{}
	for _, id := range k.users {
		agencies[id] = password(id)
	}
	e := devcreds.Endpoints{Brokers: k.broker.Addr(), Registry: k.cfg.registry}
	if err := devcreds.WriteAgencies(k.cfg.dataDir, e, agencies); err != nil {
		return err
	}
	exPw, err := devcreds.WritePassword(k.cfg.dataDir, devExchangeUser, password(devExchangeUser))
	if err != nil {
		return err
	}
	adminPw, err := devcreds.WritePassword(k.cfg.dataDir, devAdminUser, password(devAdminUser))
	if err != nil {
		return err
	}
	if err := devcreds.WriteAdmin(k.cfg.dataDir, e, devAdminUser, password(devAdminUser)); err != nil {
		return err
	}
	k.exchange.SASL = &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: devExchangeUser, PasswordFile: exPw}
	k.exchange.ManageACLs = true
	k.admin, err = kafkaclient.New(kafkaclient.Config{Brokers: []string{k.broker.Addr()},
		SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: devAdminUser, PasswordFile: adminPw}})
	if err != nil {
		return fmt.Errorf("dev super user: %w", err)
	}
	return k.syncACLs(ctx, set)
}

// Addr is the broker's bootstrap address.
func (k *devKafka) Addr() string { return k.broker.Addr() }

// Secure reports whether the broker authenticates and enforces ACLs.
func (k *devKafka) Secure() bool { return k.admin != nil }

// Close stops the broker.
func (k *devKafka) Close() {
	if k.admin != nil {
		k.admin.Close()
	}
	k.broker.Close()
}

// syncACLs applies the ACLs set grants now, as the exchange's reconciler
// computes them (so that its first sync finds nothing to do), with the
// dev super user: the exchange cannot grant itself ALTER on the cluster.
func (k *devKafka) syncACLs(ctx context.Context, set *agreements.Set) error {
	opt := acl.Options{ExchangePrincipal: k.exchange.ExchangePrincipal(), ExchangeGroup: k.exchange.WithDefaults().GroupID, ManageACLs: true, HTTPIngest: k.cfg.httpIngest}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ch, err := aclsync.Sync(ctx, k.admin, set, time.Now(), opt, false)
	if err != nil {
		return fmt.Errorf("applying the policy's Kafka ACLs to the embedded broker: %w", err)
	}
	if !ch.Empty() && k.cfg.log != nil {
		k.cfg.log.Info("kafka ACLs applied by the dev super user", "created", len(ch.Create), "deleted", len(ch.Delete))
	}
	return nil
}

// devKafkaView is what the banner shows of the broker.
type devKafkaView struct {
	addr, dataDir string
	secure        bool
	users         []string // agencies with credentials
	httpIngest    bool     // HTTP ingest is served (--http-ingest)
}

func (k *devKafka) view() devKafkaView {
	return devKafkaView{addr: k.Addr(), dataDir: k.cfg.dataDir, secure: k.Secure(), users: k.users, httpIngest: k.cfg.httpIngest}
}

// credentialsLine is the banner's line about the credentials.
func (v devKafkaView) credentialsLine() string {
	if !v.secure {
		return "NONE (--insecure: no authentication, no ACLs)"
	}
	return fmt.Sprintf("%s (SASL/SCRAM-SHA-512, ACLs enforced; agencies: %s)", devcreds.AgenciesDir(v.dataDir), strings.Join(v.users, ", "))
}

// connectFlag is how the banner's commands connect as agency: its
// credentials file, or with --insecure the broker's address.
func (v devKafkaView) connectFlag(agency string) string {
	if !v.secure {
		return "--brokers " + v.addr
	}
	return "--credentials " + devcreds.AgencyFile(v.dataDir, agency)
}

// agencyConfig is the connection block of agency (the demo publishes as
// each dataset's owner); with --insecure, the plain broker.
func (k *devKafka) agencyConfig(agency string) (kafkaclient.Config, []kafkaclient.Opt, error) {
	if !k.Secure() {
		return kafkaclient.Config{Brokers: []string{k.Addr()}}, nil, nil
	}
	cfg, opt, err := kafkaclient.ReadProperties(devcreds.AgencyFile(k.cfg.dataDir, agency))
	return cfg, []kafkaclient.Opt{opt}, err
}

// warnIfInsecure shows, with --insecure, the warning on /readyz and in the
// log. (With SASL the app keeps the ACLs and has its kafka_acls check.)
func (k *devKafka) warnIfInsecure(a *app.App) {
	if k.Secure() {
		return
	}
	a.Server().SetDetail("kafka_security", devInsecureWarning)
	k.cfg.log.Warn(devInsecureWarning)
}
