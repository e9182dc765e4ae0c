package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/app"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devbroker"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

// Dev mode's Kafka principals besides the agencies: the exchange runs as
// devExchangeUser (no super user: its own ACLs), devAdminUser is the super
// user that applies the ACLs (and reads what no agency may, for
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
	log                      *slog.Logger
}

// devKafka is the embedded broker with its identities: SASL/SCRAM and ACL
// enforcement, the exchange as User:exchange, every agency of the policy a
// user with its credentials under <data-dir>/credentials/.
type devKafka struct {
	cfg      devKafkaConfig
	broker   *devbroker.Broker
	exchange kafkaclient.Config   // the exchange's connection block
	admin    *kafkaclient.Clients // the dev super user; nil with --insecure
	users    []string             // agencies with a Kafka user (this start's)

	mu      sync.Mutex
	syncErr error // last ACL apply's failure
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
	k.exchange = kafkaclient.Config{Brokers: []string{b.Addr()}}
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

// secure writes the credentials and applies the ACLs of set.
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

// syncACLs reconciles the broker's ACLs with those set grants now.
func (k *devKafka) syncACLs(ctx context.Context, set *agreements.Set) error {
	opt := acl.Options{ExchangePrincipal: acl.AgencyPrincipal(devExchangeUser)}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ch, err := aclsync.Sync(ctx, k.admin, set, time.Now(), opt, false)
	k.mu.Lock()
	k.syncErr = err
	k.mu.Unlock()
	if err != nil {
		return fmt.Errorf("applying the policy's Kafka ACLs to the embedded broker: %w", err)
	}
	if !ch.Empty() && k.cfg.log != nil {
		k.cfg.log.Info("kafka ACLs applied", "created", len(ch.Create), "deleted", len(ch.Delete))
	}
	for _, id := range acl.Agencies(set) {
		if !slices.Contains(k.users, id) && k.cfg.log != nil {
			k.cfg.log.Warn("agency added since exchange dev started has no Kafka user until it restarts", "agency", id)
		}
	}
	return nil
}

// Ready is the readiness check of the ACLs: the last apply failed.
func (k *devKafka) Ready(context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.syncErr
}

// keepACLs applies the ACLs again whenever the plan in force changes (an
// agreement activated, suspended, revoked) or an agreement's validity
// window opens or closes, until ctx ends. A failed apply is logged, shown
// on /readyz and retried at the next tick.
func (k *devKafka) keepACLs(ctx context.Context, a *app.App, every time.Duration) {
	if !k.Secure() {
		return
	}
	version := a.Plan().Version()
	var next time.Time // zero: no pending validity bound
	if set, err := agreements.LoadDir(k.cfg.contracts); err == nil {
		next, _ = acl.NextChange(set, time.Now())
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v := a.Plan().Version()
		due := !next.IsZero() && !time.Now().Before(next)
		if v == version && !due && k.Ready(ctx) == nil {
			continue
		}
		set, err := agreements.LoadDir(k.cfg.contracts)
		if err == nil {
			err = k.syncACLs(ctx, set)
			next, _ = acl.NextChange(set, time.Now())
		}
		if err != nil {
			if ctx.Err() == nil {
				k.cfg.log.Error("kafka ACLs not applied; retrying", "err", err)
			}
			continue
		}
		version = v
	}
}

// devKafkaView is what the banner shows of the broker.
type devKafkaView struct {
	addr, dataDir string
	secure        bool
	users         []string // agencies with credentials
}

func (k *devKafka) view() devKafkaView {
	return devKafkaView{addr: k.Addr(), dataDir: k.cfg.dataDir, secure: k.Secure(), users: k.users}
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

// watch adds the ACLs' readiness check (or, with --insecure, the warning
// detail) to /readyz and keeps the ACLs in step with the plan until ctx
// ends.
func (k *devKafka) watch(ctx context.Context, a *app.App) {
	if !k.Secure() {
		a.Server().SetDetail("kafka_security", devInsecureWarning)
		k.cfg.log.Warn(devInsecureWarning)
		return
	}
	a.Server().AddCheck("kafka_acls", k.Ready)
	go k.keepACLs(ctx, a, 250*time.Millisecond)
}
