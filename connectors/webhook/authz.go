package webhook

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
)

// watchAuthz asks the brokers every AuthzInterval whether the consumer may
// still read the delivery topic and use its group, until ctx ends.
//
// Why a probe of its own: when an agreement is suspended or revoked, the
// exchange removes the consumer's READ on the delivery topic, but kafka-go's
// Reader does not report a refused fetch (it retries silently,
// IDENTITY.md), and the records it fetched before would still be posted.
// The probe is a Fetch and an OffsetFetch through an admin client, which
// return the broker's refusal; while refused, nothing is posted and nothing
// committed (awaitAuthorized), the gauge exchange_webhook_authorized is 0
// and the refusal is logged once. A probe that fails otherwise (broker
// unreachable) changes nothing.
func (c *Connector) watchAuthz(ctx context.Context) {
	t := time.NewTicker(c.cfg.AuthzInterval)
	defer t.Stop()
	for {
		if ok, err := c.checkAuthz(ctx); ctx.Err() == nil && (ok || err != nil) {
			c.setAuthorized(ok, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkAuthz probes READ on the topic (a Fetch of partition 0; the broker
// checks the ACL before the offset) and on the group (an OffsetFetch). It
// returns (true, nil) when both are allowed, (false, refusal) when the
// broker refuses, and (false, nil) when it cannot tell.
func (c *Connector) checkAuthz(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.AuthzInterval, 5*time.Second))
	defer cancel()
	admin := c.clients.Admin()
	res, err := admin.Fetch(ctx, &kafka.FetchRequest{Topic: c.topic, Partition: 0, Offset: 0, MinBytes: 1, MaxBytes: 1024, MaxWait: 10 * time.Millisecond})
	if err == nil {
		err = res.Error
	}
	if denied(err) {
		return false, err
	}
	if err != nil && !errors.Is(err, kafka.OffsetOutOfRange) {
		return false, nil
	}
	of, err := admin.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.cfg.Group, Topics: map[string][]int{c.topic: {0}}})
	if err == nil {
		err = of.Error
		for _, p := range of.Topics[c.topic] {
			if err == nil {
				err = p.Error
			}
		}
	}
	if denied(err) {
		return false, err
	}
	// No such group yet (no member joined): the broker authorized the
	// request before it looked.
	return err == nil || errors.Is(err, kafka.GroupIdNotFound), nil
}

// denied reports whether err is the brokers refusing the consumer: an
// authorization failure, or the topic hidden from a principal without
// DESCRIBE on it (the delivery topic exists while its agreement does).
func denied(err error) bool {
	return err != nil && (errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.GroupAuthorizationFailed) ||
		errors.Is(err, kafka.UnknownTopicOrPartition) || strings.Contains(err.Error(), "Authorization Failed"))
}

// setAuthorized records the probe's verdict; a change is logged (a
// refusal at error level: the agreement was most likely suspended or
// revoked).
func (c *Connector) setAuthorized(ok bool, err error) {
	v := 0.0
	if ok {
		v = 1
	}
	c.metrics.authorized.WithLabelValues(c.cfg.Agreement).Set(v)
	if c.authorized.Swap(ok) == ok {
		return
	}
	if ok {
		c.log.Info("the brokers allow reading the delivery topic again: posting resumes", "topic", c.topic)
		return
	}
	c.log.Error("the brokers deny the consumer its delivery topic or group (agreement suspended or revoked, or ACLs missing): posting and committing stop until access returns",
		"topic", c.topic, "group", c.cfg.Group, "err", kafkaclient.Explain(err))
}

// awaitAuthorized returns true at once while authorized, else waits until
// the probe allows again (true) or gctx ends (false).
func (c *Connector) awaitAuthorized(gctx context.Context) bool {
	for !c.authorized.Load() {
		if !sleep(gctx, min(c.cfg.AuthzInterval, 200*time.Millisecond)) {
			return false
		}
	}
	return gctx.Err() == nil
}
