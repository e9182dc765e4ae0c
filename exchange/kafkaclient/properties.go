package kafkaclient

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// ReadProperties reads a Kafka client properties file, as librdkafka,
// Confluent and Kafka's Java tools read them (key=value lines, # and !
// comments), and returns the connection block it describes and the Opt
// that hands its password to New. It reads bootstrap.servers,
// security.protocol (PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL),
// sasl.mechanism (or librdkafka's sasl.mechanisms), sasl.username and
// sasl.password (or the Java form, sasl.jaas.config) and the ssl.*.location
// files; other keys (schema.registry.url, …) are not the connection's.
// Errors name the file and the key, never the password.
func ReadProperties(path string) (Config, Opt, error) {
	props, err := readPropertiesFile(path)
	if err != nil {
		return Config{}, nil, err
	}
	cfg, pw, err := propertiesConfig(props)
	if err != nil {
		return Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	getenv := func(k string) string {
		if k == PasswordEnv {
			return pw
		}
		return os.Getenv(k)
	}
	return cfg, Getenv(getenv), nil
}

func readPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s line %d: not key=value", path, n)
		}
		props[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return props, nil
}

// jaasOption finds key="value" in a sasl.jaas.config line.
var jaasOption = regexp.MustCompile(`(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

func propertiesConfig(props map[string]string) (cfg Config, password string, err error) {
	for _, b := range strings.Split(props["bootstrap.servers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(cfg.Brokers) == 0 {
		return cfg, "", errors.New("bootstrap.servers: required")
	}
	proto := strings.ToUpper(props["security.protocol"])
	switch proto {
	case "", "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		cfg.TLS = &TLS{CAFile: props["ssl.ca.location"], CertFile: props["ssl.certificate.location"], KeyFile: props["ssl.key.location"]}
	default:
		return cfg, "", fmt.Errorf("security.protocol: %q is not PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL", proto)
	}
	if !strings.HasPrefix(proto, "SASL_") {
		return cfg, "", nil
	}
	mech := props["sasl.mechanism"]
	if mech == "" {
		mech = props["sasl.mechanisms"]
	}
	user, password := props["sasl.username"], props["sasl.password"]
	for _, m := range jaasOption.FindAllStringSubmatch(props["sasl.jaas.config"], -1) {
		switch v := strings.ReplaceAll(m[2], `\"`, `"`); m[1] {
		case "username":
			if user == "" {
				user = v
			}
		case "password":
			if password == "" {
				password = v
			}
		}
	}
	cfg.SASL = &SASL{Mechanism: strings.ToUpper(mech), Username: user}
	if password == "" {
		return cfg, "", fmt.Errorf("security.protocol %s: no sasl.password (nor a password in sasl.jaas.config) for user %s", proto, user)
	}
	return cfg, password, cfg.Validate()
}

// RegistryUserInfo is the schema registry's HTTP Basic user info
// (basic.auth.user.info, user:secret) of a client properties file, as
// Confluent serializers read it; "" when the file names none or its
// basic.auth.credentials.source is not USER_INFO.
func RegistryUserInfo(path string) (string, error) {
	props, err := readPropertiesFile(path)
	if err != nil {
		return "", err
	}
	if src := props["basic.auth.credentials.source"]; src != "" && !strings.EqualFold(src, "USER_INFO") {
		return "", nil
	}
	return props["basic.auth.user.info"], nil
}

// RegistryURL is the schema registry's base URL (schema.registry.url) of a
// client properties file; "" when the file names none.
func RegistryURL(path string) (string, error) {
	props, err := readPropertiesFile(path)
	if err != nil {
		return "", err
	}
	return props["schema.registry.url"], nil
}
