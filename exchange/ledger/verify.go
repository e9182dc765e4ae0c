package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"sort"
	"time"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// PublicKey, when set, is the only key checkpoints may be signed with.
	// Without it signatures are checked against the key each checkpoint
	// carries, which detects corruption but not a forger with database access.
	PublicKey ed25519.PublicKey
	// External holds checkpoints kept outside the database (`audit export`).
	// Each must match the stored chain, so rewriting the database, its
	// checkpoints included, is still detected.
	External []Checkpoint
	// MaxBreaks stops after this many breaks (default 100).
	MaxBreaks int
}

// Anchor records that a chain's entries up to UpToSeq were archived (their
// month partition detached, dumped and dropped): verify then expects the
// chain to resume at UpToSeq+1 with PrevHash equal to Hash.
type Anchor struct {
	Chain
	UpToSeq    int64     `json:"up_to_seq"`
	Hash       []byte    `json:"hash"`
	Archive    string    `json:"archive"` // e.g. the partition's table name
	ArchivedAt time.Time `json:"archived_at"`
}

// AnchorSource is implemented by sources whose chains can be archived.
type AnchorSource interface {
	// ChainAnchors returns the chain's archive anchors.
	ChainAnchors(ctx context.Context, c Chain) ([]Anchor, error)
}

// Break is one place where the ledger is not what was written.
type Break struct {
	Chain
	// Offset of the entry named; -1 when the entry is missing.
	Offset int64 `json:"offset"`
	Seq    int64 `json:"seq"`
	// Problem says what mismatched.
	Problem string `json:"problem"`
}

func (b Break) String() string {
	if b.Offset < 0 {
		return fmt.Sprintf("chain %s seq %d: %s", b.Chain, b.Seq, b.Problem)
	}
	return fmt.Sprintf("entry %s offset %d (seq %d): %s", b.Chain, b.Offset, b.Seq, b.Problem)
}

// Report is the result of Verify.
type Report struct {
	Chains      int   `json:"chains"`
	Entries     int64 `json:"entries"`
	Checkpoints int   `json:"checkpoints"`
	External    int   `json:"external_checkpoints"`
	KeyPinned   bool  `json:"key_pinned"` // signatures checked against a given public key
	// Archived lists the anchors chains resumed from: their earlier entries
	// were archived out of the database and are not checked here.
	Archived []Anchor `json:"archived,omitempty"`
	Breaks   []Break  `json:"breaks,omitempty"`
	// PerChain counts the entries checked of each chain, in chain order
	// (what a recorded verification keeps per chain).
	PerChain []ChainCount `json:"-"`
}

// ChainCount is how many entries of a chain a verification checked.
type ChainCount struct {
	Chain
	Entries int64
}

// OK reports whether no break was found.
func (r *Report) OK() bool { return len(r.Breaks) == 0 }

// Verify recomputes every chain of src: each entry's hash, Seq continuity,
// each PrevHash against its predecessor's hash, and every checkpoint's
// signature and hash. It reports breaks in chain order, the first break of a
// chain first. A returned error means the check could not run; a ledger
// that fails the check returns a Report with Breaks and a nil error.
func Verify(ctx context.Context, src Source, opts VerifyOptions) (*Report, error) {
	if opts.MaxBreaks <= 0 {
		opts.MaxBreaks = 100
	}
	rep := &Report{KeyPinned: opts.PublicKey != nil}
	chains, err := src.Chains(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing chains: %w", err)
	}
	ext := make(map[Chain][]Checkpoint)
	for _, cp := range opts.External {
		c := Chain{cp.Topic, cp.Partition}
		if _, ok := ext[c]; !ok {
			found := false
			for _, k := range chains {
				found = found || k == c
			}
			if !found {
				chains = append(chains, c)
			}
		}
		ext[c] = append(ext[c], cp)
	}
	for _, c := range chains {
		if len(rep.Breaks) >= opts.MaxBreaks {
			break
		}
		cps, err := src.ChainCheckpoints(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("reading checkpoints of %s: %w", c, err)
		}
		rep.Checkpoints += len(cps)
		rep.External += len(ext[c])
		v := chainVerifier{chain: c, rep: rep, max: opts.MaxBreaks}
		if as, ok := src.(AnchorSource); ok {
			anchors, err := as.ChainAnchors(ctx, c)
			if err != nil {
				return nil, fmt.Errorf("reading archive anchors of %s: %w", c, err)
			}
			for _, a := range anchors {
				if a.UpToSeq > v.floor {
					v.floor, v.floorHash = a.UpToSeq, a.Hash
					v.anchor = a
				}
			}
			if v.floor > 0 {
				rep.Archived = append(rep.Archived, v.anchor)
			}
		}
		v.addCheckpoints(cps, "checkpoint", opts.PublicKey)
		v.addCheckpoints(ext[c], "exported checkpoint", opts.PublicKey)
		before := rep.Entries
		if err := src.ChainEntries(ctx, c, v.entry); err != nil {
			return nil, fmt.Errorf("reading entries of %s: %w", c, err)
		}
		v.finish()
		rep.Chains++
		rep.PerChain = append(rep.PerChain, ChainCount{Chain: c, Entries: rep.Entries - before})
	}
	return rep, nil
}

type pendingCP struct {
	cp   Checkpoint
	what string
}

type chainVerifier struct {
	chain Chain
	rep   *Report
	max   int
	cps   []pendingCP // sorted by Seq, consumed as entries pass

	// floor is the highest archived seq (0: nothing archived); the chain
	// resumes at floor+1 with prev hash floorHash.
	floor     int64
	floorHash []byte
	anchor    Anchor

	n        int64
	prevSeq  int64
	prevOff  int64
	prevHash []byte
	prevOK   bool // predecessor's stored hash matched its content
}

func (v *chainVerifier) report(off, seq int64, format string, a ...any) {
	if len(v.rep.Breaks) < v.max {
		v.rep.Breaks = append(v.rep.Breaks, Break{Chain: v.chain, Offset: off, Seq: seq, Problem: fmt.Sprintf(format, a...)})
	}
}

func (v *chainVerifier) addCheckpoints(cps []Checkpoint, what string, pub ed25519.PublicKey) {
	for _, cp := range cps {
		if err := VerifyCheckpoint(&cp, pub); err != nil {
			v.report(-1, cp.Seq, "%s at seq %d: %v", what, cp.Seq, err)
			continue
		}
		v.cps = append(v.cps, pendingCP{cp, what})
	}
	sort.SliceStable(v.cps, func(i, j int) bool { return v.cps[i].cp.Seq < v.cps[j].cp.Seq })
}

// dropArchived forgets checkpoints of archived seqs: their entries are gone
// from the database by design.
func (v *chainVerifier) dropArchived() {
	for len(v.cps) > 0 && v.cps[0].cp.Seq <= v.floor {
		v.cps = v.cps[1:]
	}
}

func (v *chainVerifier) entry(e *Entry) error {
	v.rep.Entries++
	v.n++
	if v.n == 1 {
		v.dropArchived()
	}
	selfOK := bytes.Equal(ComputeHash(e), e.Hash)
	// Checkpoints of seqs this entry skipped over name missing entries.
	for len(v.cps) > 0 && v.cps[0].cp.Seq < e.Seq {
		p := v.cps[0]
		v.cps = v.cps[1:]
		if p.cp.Seq != v.prevSeq {
			v.report(-1, p.cp.Seq, "entry missing: a signed %s covers seq %d", p.what, p.cp.Seq)
		}
	}
	switch {
	case v.n == 1 && e.Seq != v.floor+1:
		if v.floor > 0 {
			v.report(-1, v.floor+1, "entries seq %d..%d missing before offset %d (archived up to seq %d)", v.floor+1, e.Seq-1, e.Offset, v.floor)
		} else {
			v.report(-1, 1, "entries seq 1..%d missing before offset %d", e.Seq-1, e.Offset)
		}
	case v.n == 1 && !selfOK:
		v.report(e.Offset, e.Seq, "content altered: stored hash does not match the hash recomputed from the entry")
	case v.n == 1 && !bytes.Equal(e.PrevHash, v.floorHash):
		if v.floor > 0 {
			v.report(e.Offset, e.Seq, "prev_hash does not match the hash of archived seq %d (%s)", v.floor, v.anchor.Archive)
		} else {
			v.report(e.Offset, e.Seq, "first entry of the chain has a prev_hash")
		}
	case v.n > 1 && e.Seq == v.prevSeq:
		v.report(e.Offset, e.Seq, "seq %d appears twice (chain forked; other entry at offset %d)", e.Seq, v.prevOff)
		return nil // the chain continues from the first entry of this seq
	case v.n > 1 && e.Seq > v.prevSeq+1:
		if e.Seq == v.prevSeq+2 {
			v.report(-1, v.prevSeq+1, "entry missing (between offset %d and offset %d)", v.prevOff, e.Offset)
		} else {
			v.report(-1, v.prevSeq+1, "entries seq %d..%d missing (between offset %d and offset %d)", v.prevSeq+1, e.Seq-1, v.prevOff, e.Offset)
		}
	case !selfOK:
		v.report(e.Offset, e.Seq, "content altered: stored hash does not match the hash recomputed from the entry")
	case v.n > 1 && !bytes.Equal(e.PrevHash, v.prevHash):
		if v.prevOK {
			// The successor is intact and remembers another hash: the
			// predecessor was altered and its hash recomputed.
			v.report(v.prevOff, v.prevSeq, "entry altered and rehashed: its hash differs from the prev_hash recorded by seq %d (offset %d)", e.Seq, e.Offset)
		} else {
			v.report(e.Offset, e.Seq, "prev_hash does not match the hash of seq %d", v.prevSeq)
		}
	}
	for len(v.cps) > 0 && v.cps[0].cp.Seq == e.Seq {
		p := v.cps[0]
		v.cps = v.cps[1:]
		if !bytes.Equal(p.cp.Hash, e.Hash) {
			v.report(e.Offset, e.Seq, "hash differs from the signed %s of %s", p.what, p.cp.Time.Format("2006-01-02T15:04:05Z07:00"))
		}
	}
	v.prevSeq, v.prevOff, v.prevOK = e.Seq, e.Offset, selfOK
	v.prevHash = append(v.prevHash[:0], e.Hash...)
	return nil
}

func (v *chainVerifier) finish() {
	v.dropArchived()
	for _, p := range v.cps {
		if p.cp.Seq == v.prevSeq {
			continue
		}
		if v.n == 0 {
			v.report(-1, p.cp.Seq, "entry missing: a signed %s covers seq %d but the chain has no entries", p.what, p.cp.Seq)
		} else {
			v.report(-1, p.cp.Seq, "entry missing: a signed %s covers seq %d beyond the last entry (seq %d, offset %d)", p.what, p.cp.Seq, v.prevSeq, v.prevOff)
		}
		break
	}
}
