package sqlite

import (
	"encoding/json"
	"testing"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// TestListsAreJSON: the inline lists the audit queries read with json_each
// are the JSON encoding/json writes, plain ASCII or not.
func TestListsAreJSON(t *testing.T) {
	reasons := []string{"quality:a", `say "hi"\`, "ünïcode\n"}
	ds := []ledger.Delivery{{AgreementID: "a1", Topic: "deliver.c.a1", DeliveryID: "00ff"}, {AgreementID: "ä", Topic: "t", DeliveryID: ""}}
	ss := []ledger.Skip{{AgreementID: "a2", Reason: "filter"}, {AgreementID: "b", Reason: "tab\t"}}
	want := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var dl, sk [][]string
	for _, d := range ds {
		dl = append(dl, []string{d.AgreementID, d.Topic, d.DeliveryID})
	}
	for _, s := range ss {
		sk = append(sk, []string{s.AgreementID, s.Reason})
	}
	for _, c := range []struct{ got, want string }{
		{string(appendReasons(nil, reasons)), want(reasons)},
		{string(appendReasons(nil, nil)), "[]"},
		{string(appendDeliveries(nil, ds)), want(dl)},
		{string(appendSkips(nil, ss)), want(sk)},
		{string(appendSkips(nil, nil)), "[]"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
