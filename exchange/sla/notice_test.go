package sla

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/agreements/names"
	"github.com/exchange-gov/exchange/schemas"
)

// TestNoticeSchemaEvolves: the notice schema with the access_request kind
// registers over the one without it under the registry's default
// compatibility, so an exchange upgraded in place keeps producing notices
// to topics whose subject holds the older schema.
func TestNoticeSchemaEvolves(t *testing.T) {
	old := strings.Replace(NoticeSchema, `, "access_request"]`, `]`, 1)
	if old == NoticeSchema {
		t.Fatal("the notice schema has no access_request kind to remove")
	}
	reg := schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(slog.New(slog.DiscardHandler)))
	ctx := context.Background()
	subject := names.ValueSubject(names.Notices("tax"))
	if _, err := reg.Register(ctx, subject, old); err != nil {
		t.Fatal(err)
	}
	id, err := reg.Register(ctx, subject, NoticeSchema)
	if err != nil {
		t.Fatalf("registering the notice schema over the previous one: %v", err)
	}
	n := Notice{Agency: "tax", Kind: KindAccessRequest, Reason: "requested", Partition: -1, Offset: -1, At: time.UnixMilli(1_800_000_000_000).UTC()}
	v, err := EncodeNotice(&n, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeNotice(v)
	if err != nil || got.Kind != KindAccessRequest || !got.At.Equal(n.At) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}
