package console

import (
	"context"
	"net/http"
	"time"

	"github.com/exchange-gov/exchange/exchange/ledger"
	"github.com/exchange-gov/exchange/exchange/server/auth"
	"github.com/exchange-gov/exchange/exchange/store"
)

// verification is the outcome of one "verify now".
type verification struct {
	At     time.Time
	By     string
	Report *ledger.Report
	Err    string // the check could not run
	// RecordErr: the check ran but its record could not be stored.
	RecordErr string
}

type chainState struct {
	Chain      ledger.Chain
	Checkpoint *ledger.Checkpoint // newest; nil: none
	SigOK      bool               // its signature verifies (against the pinned key when set)
	SigProblem string
	// Verified is the chain's newest recorded verification (any process,
	// the console's or `exchange audit verify`); nil: never verified.
	Verified *store.ChainVerification
}

type integritySummary struct {
	Chains      int
	Newest      *ledger.Checkpoint // newest checkpoint of any chain
	BadSigs     int                // newest checkpoints whose signature fails
	Fingerprint string             // ledger.KeyID of the checkpoint key; "" without one
	Last        *verification
	// From the recorded verifications (each chain's newest): how many
	// chains have one, how many of those found a break, and the newest and
	// least recent of them, whichever process or CLI run recorded them.
	Verified, Broken int
	NewestCheck      *store.ChainVerification
	OldestCheck      *store.ChainVerification
}

type integrityData struct {
	Summary integritySummary
	Last    *verification
	States  []chainState
}

// chainStates reads the chains table, every chain's newest checkpoint
// (one indexed read per chain) and newest recorded verification, and
// checks the checkpoint's signature.
func (c *Console) chainStates(ctx context.Context) ([]chainState, error) {
	chains, err := c.cfg.Store.EntryChains(ctx)
	if err != nil {
		return nil, err
	}
	recorded, err := c.cfg.Store.LatestVerifications(ctx)
	if err != nil {
		return nil, err
	}
	byChain := make(map[ledger.Chain]*store.ChainVerification, len(recorded))
	for i := range recorded {
		byChain[recorded[i].Chain] = &recorded[i]
	}
	out := make([]chainState, 0, len(chains))
	for _, ch := range chains {
		st := chainState{Chain: ch, Verified: byChain[ch]}
		cp, ok, err := c.cfg.Store.LatestCheckpoint(ctx, ch)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Checkpoint = &cp
			if err := ledger.VerifyCheckpoint(&cp, c.cfg.CheckpointKey); err != nil {
				st.SigProblem = err.Error()
			} else {
				st.SigOK = true
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func (c *Console) summarize(states []chainState) integritySummary {
	s := integritySummary{Chains: len(states), Last: c.lastVerification()}
	if c.cfg.CheckpointKey != nil {
		s.Fingerprint = ledger.KeyID(c.cfg.CheckpointKey)
	}
	for _, st := range states {
		if v := st.Verified; v != nil {
			s.Verified++
			if !v.OK {
				s.Broken++
			}
			if s.NewestCheck == nil || v.At.After(s.NewestCheck.At) {
				s.NewestCheck = v
			}
			if s.OldestCheck == nil || v.At.Before(s.OldestCheck.At) {
				s.OldestCheck = v
			}
		}
		if st.Checkpoint == nil {
			continue
		}
		if !st.SigOK {
			s.BadSigs++
		}
		if s.Newest == nil || st.Checkpoint.Time.After(s.Newest.Time) {
			s.Newest = st.Checkpoint
		}
	}
	return s
}

func (c *Console) integritySummary(r *http.Request) (integritySummary, error) {
	states, err := c.chainStates(r.Context())
	if err != nil {
		return integritySummary{}, err
	}
	return c.summarize(states), nil
}

func (c *Console) lastVerification() *verification {
	return c.verified.Load()
}

// integrity: each chain's newest signed checkpoint and the last
// verification; auditors and operators.
func (c *Console) integrity(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.requireRole(w, r, v, auth.RoleAuditor, auth.RoleOperator) {
		return
	}
	states, err := c.chainStates(r.Context())
	if err != nil {
		code, msg := c.errorOf(r, err)
		c.failView(w, r, v, code, msg)
		return
	}
	v.Title, v.Nav, v.Data = "Integrity", "integrity", integrityData{Summary: c.summarize(states), Last: c.lastVerification(), States: states}
	c.render(w, r, "integrity", v)
}

// verifyNow recomputes every chain (ledger.Verify, pinned to the
// checkpoint key): an auditor's explicit request, the one place the
// console reads the whole ledger. One runs at a time.
func (c *Console) verifyNow(w http.ResponseWriter, r *http.Request, v *view) {
	if !c.requireRole(w, r, v, auth.RoleAuditor) {
		return
	}
	if !c.verifyMu.TryLock() {
		c.failView(w, r, v, http.StatusConflict, "A verification is running; wait for it to finish.")
		return
	}
	rep, err := ledger.Verify(r.Context(), c.cfg.Store, ledger.VerifyOptions{PublicKey: c.cfg.CheckpointKey})
	res := &verification{At: c.now().UTC(), By: v.Principal.String(), Report: rep}
	if err != nil {
		res.Err = "the check could not run: " + err.Error()
	} else if rerr := c.cfg.Store.RecordVerification(r.Context(), store.VerificationOf(res.By, res.At, rep)); rerr != nil {
		// The check ran; only its record is missing: say so on the page.
		res.RecordErr = "the result could not be recorded: " + rerr.Error()
		c.log.Warn("console: recording a verification failed", "by", res.By, "err", rerr)
	}
	c.verified.Store(res)
	c.verifyMu.Unlock()
	c.log.Info("console: ledger verified", "by", res.By, "ok", err == nil && rep.OK())
	http.Redirect(w, r, Prefix+"integrity", http.StatusSeeOther)
}
