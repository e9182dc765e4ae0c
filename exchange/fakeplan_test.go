package exchange

import (
	"time"

	"github.com/exchange-gov/exchange/policy"
	"github.com/exchange-gov/exchange/schemas"
)

// fakePlan is a trivial decider for the Kafka mechanics tests (crash,
// groups, fail-closed): it delivers every record of its dataset to each
// agreement unchanged but re-framed under derivedID, and quarantines
// schema id badID with quality:fake.
type fakePlan struct {
	version    string
	datasets   []string
	agreements []fakeAgreement
}

type fakeAgreement struct{ id, consumer, dataset string }

const (
	fakeDerivedID = 900
	fakeBadID     = 666
)

func (p *fakePlan) Version() string    { return p.version }
func (p *fakePlan) Datasets() []string { return p.datasets }
func (p *fakePlan) DeliveryTopics() []string {
	var out []string
	for _, a := range p.agreements {
		out = append(out, DeliverTopic(a.consumer, a.id))
	}
	return out
}

func (p *fakePlan) Evaluate(rec policy.Record, now time.Time) policy.Decision {
	if rec.SchemaID == fakeBadID {
		return policy.Decision{Quarantined: true, Reasons: []policy.Reason{{Code: policy.QualityReason("fake"), Detail: "rule fake failed"}}}
	}
	var d policy.Decision
	for _, a := range p.agreements {
		if a.dataset != rec.Dataset {
			continue
		}
		v := schemas.AppendFrame(nil, fakeDerivedID)
		v = append(v, rec.Body...)
		d.Outcomes = append(d.Outcomes, policy.Outcome{
			AgreementID: a.id, Consumer: a.consumer, Topic: DeliverTopic(a.consumer, a.id), Delivered: true, Value: v,
		})
	}
	return d
}

// framed returns body in the wire format under schema id.
func framed(id int, body string) []byte {
	return append(schemas.AppendFrame(nil, id), body...)
}
