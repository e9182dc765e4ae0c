package exchange

import (
	"errors"
	"fmt"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// DefaultPartitions is the partition count of the topics the exchange
// creates when none is configured.
const DefaultPartitions = 3

// KafkaConfig is the Kafka side of the exchange: the connection block
// (brokers, client id, TLS, SASL), the consumer group its workers share and
// the layout of the topics they create. It is the `kafka:` block of
// exchange.yaml, passed as one value from the configuration to the app and
// on to every worker.
type KafkaConfig struct {
	kafkaclient.Config `yaml:",inline"`
	// GroupID is the consumer group shared by all exchange workers.
	// Default names.DefaultGroup ("exchange").
	GroupID string `yaml:"group_id"`
	// Partitions of the topics the exchange creates. Default DefaultPartitions.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of created topics; 0 means the broker default
	// (default.replication.factor).
	ReplicationFactor int `yaml:"replication_factor"`
}

// DefaultKafkaConfig is a KafkaConfig with the defaults filled in (and no
// brokers).
func DefaultKafkaConfig() KafkaConfig {
	return KafkaConfig{GroupID: names.DefaultGroup, Partitions: DefaultPartitions}
}

// WithDefaults returns k with its zero fields set to their defaults.
func (k KafkaConfig) WithDefaults() KafkaConfig {
	d := DefaultKafkaConfig()
	if k.GroupID == "" {
		k.GroupID = d.GroupID
	}
	if k.Partitions <= 0 {
		k.Partitions = d.Partitions
	}
	return k
}

// Validate reports every problem of k at once, naming the YAML keys
// (kafka.…); the defaults must be applied already.
func (k KafkaConfig) Validate() error {
	errs := []error{k.Config.Validate()}
	if k.GroupID == "" {
		errs = append(errs, errors.New("kafka.group_id: must not be empty"))
	}
	if k.Partitions < 1 {
		errs = append(errs, fmt.Errorf("kafka.partitions: %d, must be at least 1", k.Partitions))
	}
	return errors.Join(errs...)
}
