package outbox

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/schemas/registryhttp"
)

// KafkaClients connects as the agency: from kafka_credentials (a client
// .properties file, as exchange dev writes under credentials/agencies/)
// or the kafka: block. The caller closes them.
func (c Config) KafkaClients() (*kafkaclient.Clients, error) {
	if c.KafkaCredentials != "" {
		cfg, opt, err := kafkaclient.ReadProperties(c.KafkaCredentials)
		if err != nil {
			return nil, fmt.Errorf("kafka_credentials: %w", err)
		}
		kc, err := kafkaclient.New(cfg, opt)
		if err != nil {
			return nil, fmt.Errorf("kafka_credentials %s: %w", c.KafkaCredentials, err)
		}
		return kc, nil
	}
	if c.Kafka == nil {
		return nil, fmt.Errorf("kafka_credentials or kafka: the agency's Kafka connection is required")
	}
	kc, err := kafkaclient.New(*c.Kafka)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return kc, nil
}

// RegistryClient is an HTTP client that authenticates to the registry as
// the agency: the bearer token of registry.token_file, else HTTP Basic with
// the basic.auth.user.info of kafka_credentials (as Confluent serializers
// send it), else none (the registry's 401 then says what is missing).
func (c Config) RegistryClient() (*http.Client, error) {
	var header string
	switch {
	case c.Registry.TokenFile != "":
		b, err := os.ReadFile(c.Registry.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("registry.token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || strings.ContainsAny(tok, " \r\n\t") {
			return nil, fmt.Errorf("registry.token_file %s: the file does not hold one token", c.Registry.TokenFile)
		}
		header = "Bearer " + tok
	case c.KafkaCredentials != "":
		info, err := kafkaclient.RegistryUserInfo(c.KafkaCredentials)
		if err != nil {
			return nil, fmt.Errorf("kafka_credentials: %w", err)
		}
		if info != "" {
			header = "Basic " + base64.StdEncoding.EncodeToString([]byte(info))
		}
	}
	if header == "" {
		return http.DefaultClient, nil
	}
	return registryhttp.AuthClient(header), nil
}
