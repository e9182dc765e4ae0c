package storetest

import (
	"testing"
	"time"

	"github.com/exchange-gov/exchange/exchange/store"
)

// RunAccessLog checks the access log keeps every data-subject query, who,
// when and why, and returns them newest first.
func RunAccessLog(t *testing.T, h Harness) {
	b := h.Open(t)
	ctx := testCtx(t)
	want := []store.Access{
		{Who: "auditor dpo (oidc)", At: baseTime.Add(time.Second), Purpose: "subject access request 42", Query: "/api/v1/audit subject_hash=ab"},
		{Who: "auditor dpo (oidc)", At: baseTime.Add(2 * time.Second), Purpose: "complaint 7", Query: "/api/v1/audit subject_hash=cd"},
	}
	for _, a := range want {
		if err := b.RecordAccess(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Accesses(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want[1] || got[1] != want[0] {
		t.Fatalf("accesses: %+v\nwant newest first %+v", got, want)
	}
	if got, err := b.Accesses(ctx, 1); err != nil || len(got) != 1 || got[0] != want[1] {
		t.Fatalf("the last access: %+v, %v", got, err)
	}
}
