package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/exchange-gov/exchange/connectors/webhook"
)

// The signature is the documented scheme: a receiver that follows the
// package doc by hand (no Go library) computes the same v1.
func TestSignIsTheDocumentedScheme(t *testing.T) {
	secret, body := []byte("0123456789abcdef-secret"), []byte(`{"id":"p-1"}`)
	at := time.Unix(1767225600, 0)
	h := webhook.Sign(secret, body, at)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1767225600." + string(body)))
	want := "t=1767225600,v1=" + hex.EncodeToString(m.Sum(nil))
	if h != want {
		t.Fatalf("Sign = %s, want %s", h, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("0123456789abcdef-secret"), []byte(`{"id":"p-1","n":1}`)
	at := time.Unix(1767225600, 0)
	good := webhook.Sign(secret, body, at)
	other := webhook.Sign([]byte("another-secret-0123456789"), body, at)
	_, otherV1, _ := strings.Cut(other, ",")
	tol := webhook.DefaultTolerance
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"genuine", secret, good, body, at.Add(time.Minute), nil},
		{"genuine, clock slightly behind", secret, good, body, at.Add(-time.Minute), nil},
		{"rotation: old and new v1", secret, good + "," + otherV1, body, at, nil},
		{"unknown elements ignored", secret, good + ",v0=abc", body, at, nil},
		{"body altered", secret, good, []byte(`{"id":"p-1","n":2}`), at, webhook.ErrBadSignature},
		{"wrong secret", []byte("not-the-secret-0123456"), good, body, at, webhook.ErrBadSignature},
		{"replayed after the window", secret, good, body, at.Add(tol + time.Second), webhook.ErrStaleSignature},
		{"from the future", secret, good, body, at.Add(-tol - time.Second), webhook.ErrStaleSignature},
		{"t altered", secret, strings.Replace(good, "t=1767225600", "t=1767225601", 1), body, at, webhook.ErrBadSignature},
		{"no t", secret, otherV1, body, at, webhook.ErrMalformedSignature},
		{"no v1", secret, "t=1767225600", body, at, webhook.ErrMalformedSignature},
		{"v1 not hex", secret, "t=1767225600,v1=zz", body, at, webhook.ErrMalformedSignature},
		{"t twice", secret, good + ",t=1767225600", body, at, webhook.ErrMalformedSignature},
		{"empty", secret, "", body, at, webhook.ErrMalformedSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := webhook.Verify(c.secret, c.header, c.body, c.now, tol)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

// A receiver checks a request with Verify and the raw body.
func ExampleVerify() {
	secret := []byte("the endpoint's shared secret")
	body := []byte(`{"person_id":"p-7f3a","status":"vaccinated"}`)
	sent := time.Unix(1767225600, 0)
	header := webhook.Sign(secret, body, sent) // the Exchange-Signature header

	now := sent.Add(3 * time.Second)
	fmt.Println(webhook.Verify(secret, header, body, now, webhook.DefaultTolerance))
	fmt.Println(webhook.Verify(secret, header, body, now.Add(time.Hour), webhook.DefaultTolerance) != nil)
	// Output:
	// <nil>
	// true
}
