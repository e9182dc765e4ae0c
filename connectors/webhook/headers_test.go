package webhook

import (
	"strings"
	"testing"

	"github.com/exchange-gov/exchange/exchange"
)

// The Kafka header names the connector reads are the runtime's: a rename
// there would otherwise silently drop the Idempotency-Key or forward the
// Ed25519 signature under the HMAC's name.
func TestKafkaHeadersAreTheRuntimes(t *testing.T) {
	for got, want := range map[string]string{
		kafkaHeaderPrefix:      exchange.ReservedPrefix,
		kafkaHeaderDeliveryID:  exchange.HeaderDeliveryID,
		kafkaHeaderSignature:   exchange.HeaderSignature,
		kafkaHeaderTraceparent: exchange.HeaderTraceparent,
	} {
		if got != want {
			t.Errorf("connector reads header %q, the runtime writes %q", got, want)
		}
	}
	for _, h := range []string{exchange.HeaderAgreement, exchange.HeaderSource, exchange.HeaderEventTime} {
		if !strings.HasPrefix(h, kafkaHeaderPrefix) {
			t.Errorf("delivery header %q is not forwarded (no %q prefix)", h, kafkaHeaderPrefix)
		}
	}
}
