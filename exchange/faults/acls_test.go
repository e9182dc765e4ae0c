package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/agreements/acl"
	"github.com/exchange-gov/exchange/exchange/aclsync"
	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// revocationBound is how soon after an agreement's file is edited to
// revoked its consumer's read of the delivery topic must be denied.
const revocationBound = 5 * time.Second

// TestRevokedConsumerDeniedMidStream: on a broker enforcing SASL/SCRAM and
// ACLs (kfake; and the SASL Apache Kafka when make test runs one), with the
// exchange managing the ACLs, the dataset's owner publishes with its own
// credentials and the social-services agreement's consumer reads its
// delivery topic with its own (a Fetch, which reports a refusal); the
// agreement is revoked by a steward (in the store) mid-stream: the
// consumer's next read is denied within 5 s of the revocation, and nothing
// was lost or left unaudited.
func TestRevokedConsumerDeniedMidStream(t *testing.T) {
	t.Run("kfake", func(t *testing.T) {
		needBinary(t)
		set, err := agreements.LoadDir(filepath.Join(repoRoot, "deploy", "examples"))
		if err != nil {
			t.Fatal(err)
		}
		b := kafkatest.Kfake(t, []string{"exchange"}, acl.Agencies(set), kfake.GroupMinSessionTimeout(time.Second))
		revokedConsumerDenied(t, b, "kfake")
	})
	t.Run("apache", func(t *testing.T) {
		needBinary(t)
		b := kafkatest.SASLFromEnv(t)
		kafkatest.Lock(t, b.Brokers) // the exchange reconciles the example agencies' ACLs
		revokedConsumerDenied(t, b, "Apache Kafka")
	})
}

func revokedConsumerDenied(t *testing.T, b *kafkatest.SASLBroker, broker string) {
	w := newWorld(t, worldOpts{sasl: b})
	mon := w.monitorOffsets()
	p := w.start("exchange")
	tr := &kafka.Transport{SASL: b.As(t, "social-services"), MetadataTTL: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	consumer := &kafka.Client{Addr: kafka.TCP(b.Brokers...), Transport: tr, Timeout: 5 * time.Second}
	read := func() error {
		ctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
		defer cancel()
		_, err := kafkatest.Fetch(ctx, consumer, w.socialT)
		return err
	}

	wr := w.publisher()
	const n = 3000
	done := w.stream(wr, goodMix, n, 50, 50*time.Millisecond)
	w.waitFor("some of the stream committed", 60*time.Second, func() bool { return w.committedTotal() >= 300 })
	w.waitFor("social services reading its delivery topic", 10*time.Second, func() bool { return read() == nil })

	before := len(p.reloadedVersions())
	edited := w.beginRevocation()
	w.waitFor("the revoked consumer's read denied", revocationBound, func() bool { return kafkatest.Denied(read()) })
	deniedAfter := time.Since(edited)
	_, boundary := w.revocationInForce(p, before)
	t.Logf("read denied %v after the revocation; plan in force after %d records published", deniedAfter.Round(time.Millisecond), boundary)

	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.waitIngressConsumed(60 * time.Second)
	if err := read(); !kafkatest.Denied(err) {
		t.Errorf("the revoked consumer reading %s after the stream: %v, want denied", w.socialT, err)
	}
	w.report(w.verify(nil), mon, fmt.Sprintf("%s with SASL/SCRAM and ACLs managed by the exchange; agreement revoked after %d records, its consumer's read denied %v after the revocation (bound %v)",
		broker, boundary, deniedAfter.Round(time.Millisecond), revocationBound))
	// A clean stop leaves the group, which the clean-up then deletes.
	p.signal(t, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
}

// authenticate makes the test's clients authenticate as the exchange's
// user (a super user, so the checker reads everything) and the publisher
// as the dataset's owner, and removes at the end what the scenario left on
// the broker: the ACLs its exchange managed, its topics and its group.
func (w *world) authenticate() {
	super := w.sasl.As(w.t, w.sasl.Superuser)
	w.transport.SASL = super
	w.dialer = &kafka.Dialer{SASLMechanism: super, Timeout: 10 * time.Second}
	w.pubTransport = &kafka.Transport{SASL: w.sasl.As(w.t, "health")}
	w.t.Cleanup(w.pubTransport.CloseIdleConnections)
	w.t.Cleanup(w.cleanUpBroker) // after the exchange processes are gone (cleanups run last first)
}

// saslEnv is the kafka block of `exchange serve` on a SASL world: the super
// user's credentials and kafka.manage_acls.
func (w *world) saslEnv() []string {
	if w.sasl == nil {
		return nil
	}
	file := filepath.Join(w.dir, "kafka.password")
	if err := os.WriteFile(file, []byte(w.sasl.Password(w.t, w.sasl.Superuser)), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return []string{
		"EXCHANGE_KAFKA_SASL_MECHANISM=" + kafkaclient.ScramSHA512,
		"EXCHANGE_KAFKA_SASL_USERNAME=" + w.sasl.Superuser,
		"EXCHANGE_KAFKA_SASL_PASSWORD_FILE=" + file,
		"EXCHANGE_KAFKA_MANAGE_ACLS=true",
	}
}

// cleanUpBroker deletes the ACLs the scenario's exchange manages under its
// policy, the scenario's topics and its consumer group.
func (w *world) cleanUpBroker() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	set, err := agreements.LoadDir(w.policy)
	if err != nil {
		w.t.Errorf("cleaning up: %v", err)
		return
	}
	file := filepath.Join(w.dir, "kafka.password")
	_ = os.WriteFile(file, []byte(w.sasl.Password(w.t, w.sasl.Superuser)), 0o600)
	c, err := kafkaclient.New(kafkaclient.Config{Brokers: w.brokers, SASL: &kafkaclient.SASL{
		Mechanism: kafkaclient.ScramSHA512, Username: w.sasl.Superuser, PasswordFile: file}})
	if err != nil {
		w.t.Errorf("cleaning up: %v", err)
		return
	}
	defer c.Close()
	have, err := aclsync.Describe(ctx, c)
	if err != nil {
		w.t.Errorf("cleaning up ACLs: %v", err)
		return
	}
	opt := acl.Options{ExchangePrincipal: acl.AgencyPrincipal(w.sasl.Superuser), ExchangeGroup: w.group, ManageACLs: true}
	if ch := acl.Diff(nil, have, acl.NewScope(set, opt)); len(ch.Delete) > 0 {
		if err := aclsync.Apply(ctx, c, acl.Changes{Delete: ch.Delete}); err != nil {
			w.t.Errorf("cleaning up %d ACLs: %v", len(ch.Delete), err)
		}
	}
	if _, err := c.Admin().DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{w.ingress, w.quarantine, w.socialT, w.statsT}}); err != nil {
		w.t.Errorf("deleting the scenario's topics: %v", err)
	}
	res, err := c.Admin().DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: []string{w.group}})
	if err == nil {
		err = res.Errors[w.group]
	}
	if err != nil {
		w.t.Errorf("deleting the group %s: %v", w.group, err)
	}
}
