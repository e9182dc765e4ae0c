package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"gopkg.in/yaml.v3"
)

// File is the configuration file of `exchange connect webhook --config
// FILE`: the same endpoint entries as `connectors: webhooks:` in
// exchange.yaml.
type File struct {
	Webhooks []Endpoint `yaml:"webhooks"`
}

// LoadFile reads and validates a File; unknown keys are errors.
func LoadFile(path string) (File, error) {
	var f File
	data, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("webhook config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("webhook config %s: %w", path, err)
	}
	if len(f.Webhooks) == 0 {
		return f, fmt.Errorf("webhook config %s: webhooks: no endpoint", path)
	}
	if err := ValidateAll(f.Webhooks); err != nil {
		return f, fmt.Errorf("webhook config %s: %w", path, err)
	}
	return f, nil
}

// ValidateAll validates every endpoint (with its defaults) and that no
// agreement has two: the metrics and the consumer group are per agreement.
func ValidateAll(eps []Endpoint) error {
	var errs []error
	seen := map[string]bool{}
	for _, e := range eps {
		e = e.WithDefaults()
		if err := e.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[e.Agreement] {
			errs = append(errs, fmt.Errorf("%s: a second endpoint for the same agreement", e.Name()))
		}
		seen[e.Agreement] = true
	}
	return errors.Join(errs...)
}

// RunAll builds a Connector per endpoint (all share opts, so give them one
// WithMetrics) and runs them until ctx ends. A configuration error stops
// it before anything runs; afterwards every connector retries its own
// failures and RunAll returns nil when ctx ends.
func RunAll(ctx context.Context, eps []Endpoint, opts ...Option) error {
	if err := ValidateAll(eps); err != nil {
		return err
	}
	cs := make([]*Connector, 0, len(eps))
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for _, e := range eps {
		c, err := New(e, opts...)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Run(ctx) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
