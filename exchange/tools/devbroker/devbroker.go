// Package devbroker runs the embedded Kafka broker of `exchange dev`: an
// in-process kfake cluster listening on a real TCP address, so that any Kafka
// client can publish to it, with its data persisted under a directory so a
// restart (even after kill -9) continues where it stopped.
//
// With SASL it authenticates every client with SCRAM-SHA-512 and enforces
// ACLs (deny by default): a super user applies them through the admin API,
// every other user may do only what they grant. SCRAM users are the ones
// given to Start, every start (kfake would otherwise reload the previous
// start's set and drop any new one); ACLs persist under DataDir.
//
// It is for development and fast tests, not production: `exchange serve`
// talks to an external Apache Kafka cluster.
package devbroker

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// ErrAddrInUse is returned (wrapped) when the listen address is taken.
var ErrAddrInUse = errors.New("address already in use")

type config struct {
	dataDir    string
	partitions int
	syncWrites bool
	superuser  *user // nil: no SASL, no ACLs
	users      []user
}

type user struct{ name, password string }

// Mechanism is the SASL mechanism of the broker's users.
const Mechanism = "SCRAM-SHA-512"

// Option configures Start.
type Option func(*config)

// DataDir persists broker state (topics, records, group offsets) under dir.
// Default: none (in memory only).
func DataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

// DefaultPartitions sets the partition count of auto-created topics. Default 3.
func DefaultPartitions(n int) Option { return func(c *config) { c.partitions = n } }

// SyncWrites fsyncs every produced batch before acknowledging it, so an
// acknowledged record survives kill -9 of the process. Default off (the OS
// page cache survives a process kill, not a machine crash).
func SyncWrites() Option { return func(c *config) { c.syncWrites = true } }

// SASL requires every client to authenticate (SCRAM-SHA-512) and enforces
// ACLs, deny by default; name is the super user, who bypasses them and is
// meant to apply them. Default: no authentication, no ACLs.
func SASL(name, password string) Option {
	return func(c *config) { c.superuser = &user{name, password} }
}

// User adds a SCRAM-SHA-512 user, subject to ACLs (with SASL only).
func User(name, password string) Option {
	return func(c *config) { c.users = append(c.users, user{name, password}) }
}

// Start listens on addr (host:port; port 0 picks a free one) and serves Kafka.
func Start(addr string, opts ...Option) (*Broker, error) {
	cfg := config{partitions: 3}
	for _, o := range opts {
		o(&cfg)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("kafka address %q: invalid port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	// kfake always asks for 127.0.0.1:<port>; listen on the host we were given.
	listen := func(network, a string) (net.Listener, error) {
		_, p, _ := net.SplitHostPort(a)
		ln, err := net.Listen(network, net.JoinHostPort(host, p))
		if err != nil && errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s: %w", net.JoinHostPort(host, p), ErrAddrInUse)
		}
		return ln, err
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(listen),
		kfake.DefaultNumPartitions(cfg.partitions),
		kfake.AllowAutoTopicCreation(),
		// kafka-go's group consumers use short session timeouts in tests.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.ClusterID("exchange-dev"),
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		// The users are the ones given now: a persisted set would replace them.
		if err := os.Remove(filepath.Join(cfg.dataDir, "sasl.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("embedded kafka: resetting its users: %w", err)
		}
	}
	kopts = append(kopts, cfg.saslOpts()...)
	if cfg.syncWrites {
		kopts = append(kopts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded kafka on %s: %w", addr, err)
	}
	addrs := c.ListenAddrs()
	b := &Broker{cluster: c}
	if len(addrs) > 0 {
		b.addr = addrs[0]
	}
	return b, nil
}

func (cfg *config) saslOpts() []kfake.Opt {
	if cfg.superuser == nil {
		return nil
	}
	opts := []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser(Mechanism, cfg.superuser.name, cfg.superuser.password)}
	for _, u := range cfg.users {
		opts = append(opts, kfake.User(Mechanism, u.name, u.password))
	}
	return opts
}

// Addr is the bootstrap address clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Cluster exposes the kfake cluster for tests that inject faults.
func (b *Broker) Cluster() *kfake.Cluster { return b.cluster }

// Close stops the broker and flushes its data directory.
func (b *Broker) Close() { b.cluster.Close() }
