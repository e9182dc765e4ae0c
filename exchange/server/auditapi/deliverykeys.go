package auditapi

import (
	"encoding/json"
	"net/http"

	"github.com/exchange-gov/exchange/exchange/deliverysig"
)

// DeliveryKeys serves GET /api/v1/delivery-keys: the key set that verifies
// the exchange-signature header of every delivery. Public keys only; it
// reads no store, so it answers while the ledger is down.
func DeliveryKeys(ks deliverysig.KeySet) http.Handler {
	body, err := json.Marshal(ks)
	if err != nil {
		panic("auditapi: marshalling a key set: " + err.Error()) // strings only: cannot fail
	}
	return staticJSON(body)
}
