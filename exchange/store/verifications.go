package store

import (
	"context"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
)

// Verification is one recorded check of the ledger's chains: the
// console's "verify now" or `exchange audit verify`.
type Verification struct {
	By     string    // the principal (auth.Principal.String), or "cli:<user>"
	At     time.Time // when it finished
	Chains []ChainVerification
}

// ChainVerification is one chain's result in a verification.
type ChainVerification struct {
	ledger.Chain
	By         string    // as Verification.By (set when read)
	At         time.Time // as Verification.At (set when read)
	Entries    int64     // entries checked
	OK         bool      // no break found
	FirstBreak string    // the first break found ("" when OK)
}

// Verifications keeps the recorded verifications (INSERT and SELECT only
// for the runtime role: a record is never rewritten).
type Verifications interface {
	// RecordVerification appends v's chains, in one transaction.
	RecordVerification(ctx context.Context, v Verification) error
	// LatestVerifications returns the newest recorded result of every
	// chain, by topic and partition.
	LatestVerifications(ctx context.Context) ([]ChainVerification, error)
}

// VerificationOf is the record of rep, a verification by who finished at
// at: each chain checked, with its first break.
func VerificationOf(by string, at time.Time, rep *ledger.Report) Verification {
	v := Verification{By: by, At: at}
	for _, pc := range rep.PerChain {
		cv := ChainVerification{Chain: pc.Chain, Entries: pc.Entries, OK: true}
		for _, b := range rep.Breaks {
			if b.Chain == pc.Chain {
				cv.OK, cv.FirstBreak = false, b.String()
				break
			}
		}
		v.Chains = append(v.Chains, cv)
	}
	return v
}
