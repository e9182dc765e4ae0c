package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/devcreds"
)

// credentialsUsage is the --credentials flag's help, shared by publish and
// consume.
const credentialsUsage = "Kafka client properties `FILE` (bootstrap.servers, security.protocol, sasl.mechanism, sasl.username, sasl.password), e.g. one exchange dev wrote under .exchange-dev/credentials/agencies/; default: that of the agency when it exists and --brokers is not given or names its broker"

// kafkaFlags are the connection flags of publish and consume.
type kafkaFlags struct {
	credentials  string
	brokers      []string
	brokersGiven bool
}

// parseBrokers splits --brokers.
func parseBrokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--brokers: no broker address given")
	}
	return out, nil
}

// clients connects with --credentials, else as agency with the dev
// credentials of ./.exchange-dev when they exist and --brokers is not
// given or names their broker (saying so on stderr), else to --brokers
// without authentication.
func (f kafkaFlags) clients(stderr io.Writer, agency string) (*kafkaclient.Clients, error) {
	if f.credentials != "" {
		return clientsFromFile(f.credentials, "--credentials")
	}
	if file, ok := f.devFile(devcreds.AgencyFile(devDataDir, agency)); ok && agency != "" {
		fmt.Fprintf(stderr, "connecting as %s with the dev credentials %s\n", agency, file)
		return clientsFromFile(file, "dev credentials")
	}
	kc, err := kafkaclient.New(kafkaclient.Config{Brokers: f.brokers})
	if err != nil {
		return nil, fmt.Errorf("--brokers: %w", err)
	}
	return kc, nil
}

// devFile reports whether file exists and applies: --brokers not given or
// naming the file's bootstrap.servers.
func (f kafkaFlags) devFile(file string) (string, bool) {
	if f.credentials != "" {
		return "", false
	}
	cfg, _, err := kafkaclient.ReadProperties(file)
	if err != nil {
		return "", false
	}
	if f.brokersGiven && !slices.Equal(cfg.Brokers, f.brokers) {
		return "", false
	}
	return file, true
}

func clientsFromFile(file, what string) (*kafkaclient.Clients, error) {
	cfg, opt, err := kafkaclient.ReadProperties(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	kc, err := kafkaclient.New(cfg, opt)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, file, err)
	}
	return kc, nil
}

// devReader finds, among the agencies with dev credentials, the one that
// may describe topicOf(agency) (an agreement's consumer, while the
// agreement is active), and connects as it. ok is false when none may.
func (f kafkaFlags) devReader(ctx context.Context, stderr io.Writer, topicOf func(agency string) string) (kc *kafkaclient.Clients, ok bool) {
	for _, id := range devcreds.Agencies(devDataDir) {
		topic := topicOf(id)
		file, applies := f.devFile(devcreds.AgencyFile(devDataDir, id))
		if !applies {
			continue
		}
		c, err := clientsFromFile(file, "dev credentials")
		if err != nil {
			continue
		}
		md, err := c.Admin().Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil {
			fmt.Fprintf(stderr, "connecting as %s with the dev credentials %s\n", id, file)
			return c, true
		}
		c.Close()
	}
	return nil, false
}

// devAdmin connects as exchange dev's super user, for what no agency may
// read (ingress.*, quarantine.*): in dev mode only, said on stderr.
func (f kafkaFlags) devAdmin(stderr io.Writer) (*kafkaclient.Clients, bool, error) {
	file, ok := f.devFile(devcreds.AdminFile(devDataDir, devAdminUser))
	if !ok {
		return nil, false, nil
	}
	fmt.Fprintf(stderr, "connecting as exchange dev's super user (%s): no agency may read this topic\n", file)
	kc, err := clientsFromFile(file, "dev credentials")
	return kc, err == nil, err
}

// register adds --credentials and --brokers to fs; call parsed after Parse.
func (f *kafkaFlags) register(fs *flag.FlagSet) *string {
	fs.StringVar(&f.credentials, "credentials", "", credentialsUsage)
	return fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated (without authentication, unless dev credentials apply)")
}

// parsed reads --brokers and whether it was given.
func (f *kafkaFlags) parsed(fs *flag.FlagSet, brokers string) error {
	fs.Visit(func(fl *flag.Flag) { f.brokersGiven = f.brokersGiven || fl.Name == "brokers" })
	if f.credentials != "" && f.brokersGiven {
		return errors.New("--credentials and --brokers: give one (the file names its brokers)")
	}
	var err error
	f.brokers, err = parseBrokers(brokers)
	return err
}
