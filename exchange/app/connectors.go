package app

import (
	"context"
	"fmt"

	"github.com/exchange-gov/exchange/connectors/outbox"
)

// runOutbox runs one configured outbox connector until ctx is done. It
// acts for its agency with the agency's own credentials (never the
// exchange's), as `exchange connect outbox` would; its metrics go to the
// process's registry, labelled with the agency.
func (a *App) runOutbox(ctx context.Context, cfg outbox.Config) error {
	kc, err := cfg.KafkaClients()
	if err != nil {
		return err
	}
	defer kc.Close()
	hc, err := cfg.RegistryClient()
	if err != nil {
		return err
	}
	c, err := outbox.New(cfg, kc, hc, outbox.WithLogger(a.log), outbox.WithRegisterer(a.cfg.Metrics))
	if err != nil {
		return fmt.Errorf("outbox of %s: %w", cfg.Agency, err)
	}
	defer c.Close()
	return c.Run(ctx)
}
