package devcreds

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mechanism is the SASL mechanism of every dev credential.
const Mechanism = "SCRAM-SHA-512"

// Dir is the credentials directory of a dev data directory.
func Dir(dataDir string) string { return filepath.Join(dataDir, "credentials") }

// AgenciesDir holds one pair of properties files per agency.
func AgenciesDir(dataDir string) string { return filepath.Join(Dir(dataDir), "agencies") }

// AgencyFile is an agency's client properties file (librdkafka, Confluent,
// `exchange publish|consume --credentials`).
func AgencyFile(dataDir, agency string) string {
	return filepath.Join(AgenciesDir(dataDir), agency+".properties")
}

// JavaFile is an agency's properties file for Kafka's CLI tools
// (--consumer.config, --producer.config, --command-config).
func JavaFile(dataDir, agency string) string {
	return filepath.Join(AgenciesDir(dataDir), agency+".java.properties")
}

// Password derives user's password from secret (a keyed derivation of the
// dev master key by label), printable and stable.
func Password(secret func(label string) []byte, user string) string {
	return base64.RawURLEncoding.EncodeToString(secret("exchange/dev-kafka/v1/" + user))
}

// Endpoints are where the files point clients.
type Endpoints struct {
	Brokers  string // bootstrap.servers
	Registry string // schema.registry.url
}

// WriteAgencies writes both files of every agency of passwords (agency id
// to password) and removes those of agencies no longer there.
func WriteAgencies(dataDir string, e Endpoints, passwords map[string]string) error {
	dir := AgenciesDir(dataDir)
	if err := mkdirPrivate(dir); err != nil {
		return err
	}
	ids := make([]string, 0, len(passwords))
	for id := range passwords {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := writePrivate(AgencyFile(dataDir, id), clientProperties(e, id, passwords[id])); err != nil {
			return err
		}
		if err := writePrivate(JavaFile(dataDir, id), javaProperties(e, id, passwords[id])); err != nil {
			return err
		}
	}
	return removeOthers(dir, passwords)
}

func clientProperties(e Endpoints, id, pw string) string {
	return fmt.Sprintf(`# Kafka and schema registry credentials of %[2]s, issued by exchange dev.
# librdkafka / confluent-kafka / exchange publish|consume --credentials.
bootstrap.servers=%[1]s
security.protocol=SASL_PLAINTEXT
sasl.mechanism=%[5]s
sasl.username=%[2]s
sasl.password=%[3]s
schema.registry.url=%[4]s
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=%[2]s:%[3]s
`, e.Brokers, id, pw, e.Registry, Mechanism)
}

func javaProperties(e Endpoints, id, pw string) string {
	return fmt.Sprintf(`# Kafka credentials of agency %[2]s for Kafka's CLI tools, issued by exchange dev.
bootstrap.servers=%[1]s
security.protocol=SASL_PLAINTEXT
sasl.mechanism=%[4]s
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="%[2]s" password="%[3]s";
`, e.Brokers, id, pw, Mechanism)
}

// AdminFile is the properties file of the dev super user.
func AdminFile(dataDir, name string) string { return filepath.Join(Dir(dataDir), name+".properties") }

// WriteAdmin writes the dev super user's properties file (AdminFile).
func WriteAdmin(dataDir string, e Endpoints, name, password string) error {
	if err := mkdirPrivate(Dir(dataDir)); err != nil {
		return err
	}
	return writePrivate(AdminFile(dataDir, name), clientProperties(e, name, password))
}

// Remove deletes every credential of a data directory (a broker without
// authentication makes them meaningless, and stale files would mislead).
func Remove(dataDir string) error {
	if err := os.RemoveAll(Dir(dataDir)); err != nil {
		return fmt.Errorf("removing the dev credentials: %w", err)
	}
	return nil
}

// Agencies lists the agencies with a properties file under dataDir, sorted.
func Agencies(dataDir string) []string {
	matches, _ := filepath.Glob(filepath.Join(AgenciesDir(dataDir), "*.properties"))
	var ids []string
	for _, m := range matches {
		if name := filepath.Base(m); !strings.HasSuffix(name, ".java.properties") {
			ids = append(ids, strings.TrimSuffix(name, ".properties"))
		}
	}
	sort.Strings(ids)
	return ids
}

// WritePassword writes credentials/<name>.password and returns its path:
// the password file of an in-process client (kafka.sasl.password_file).
func WritePassword(dataDir, name, password string) (string, error) {
	if err := mkdirPrivate(Dir(dataDir)); err != nil {
		return "", err
	}
	path := filepath.Join(Dir(dataDir), name+".password")
	return path, writePrivate(path, password+"\n")
}

func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("credentials directory: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone.
	for d := dir; ; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("credentials directory: %w", err)
		}
		if filepath.Base(d) == "credentials" || filepath.Dir(d) == d {
			return nil
		}
	}
}

// writePrivate replaces path with text, mode 0600 whatever the old file's.
func writePrivate(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// removeOthers deletes the files of agencies not in keep.
func removeOthers(dir string, keep map[string]string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("credentials directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		id := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".properties"), ".java")
		if _, ok := keep[id]; ok || !strings.HasSuffix(e.Name(), ".properties") {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
