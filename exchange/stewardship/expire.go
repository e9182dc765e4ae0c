package stewardship

import (
	"context"
	"fmt"
	"time"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/store"
)

// Expire records the runtime's move of an agreement past its valid_until
// to expired, as by with reason at at, and tells both parties like any
// transition. from is the status the caller saw: when the agreement moved
// meanwhile (another replica expired it first, a steward revoked it) the
// error wraps store.ErrConflict and nothing is recorded.
func (s *Service) Expire(ctx context.Context, id string, from agreements.Status, by, reason string, at time.Time) error {
	a, err := s.current(ctx, id)
	if err != nil {
		return err
	}
	before := 0
	l, err := s.db.Act(ctx, id, func(l store.Lifecycle) (store.LifecycleChange, error) {
		before = len(l.Transitions)
		return store.LifecycleChange{Transitions: []store.Transition{{From: from, To: agreements.StatusExpired, By: by, Reason: reason, At: at}}}, nil
	})
	if err != nil {
		return fmt.Errorf("expiring agreement %s: %w", id, err)
	}
	s.announce(ctx, a, l, before)
	return nil
}
