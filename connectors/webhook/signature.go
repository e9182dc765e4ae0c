package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header carrying the signature of a POST.
const SignatureHeader = "Exchange-Signature"

// Errors of Verify, wrapped; callers tell them apart with errors.Is.
var (
	ErrMalformedSignature = errors.New("malformed Exchange-Signature header")
	ErrStaleSignature     = errors.New("signature timestamp outside the tolerance (replayed or clock skew)")
	ErrBadSignature       = errors.New("no v1 signature matches the body")
)

// Sign returns the Exchange-Signature header value of body at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>".
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks an Exchange-Signature header against the raw request body
// (the bytes as received, before any JSON parsing) for the shared secret:
// one of its v1 values must be the HMAC of "<t>." + body, and t must be
// within tolerance of now (DefaultTolerance is the usual choice). Several
// v1 values are accepted so a sender can sign with an old and a new secret
// while the secret is rotated; unknown elements are ignored so later
// schemes can be added. The comparison is constant-time.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: element %q is not key=value", ErrMalformedSignature, part)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: t given twice", ErrMalformedSignature)
			}
			ts = v
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrMalformedSignature)
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: no unix-seconds t", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 element", ErrMalformedSignature)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: signed at %s, %v from now, tolerance %v", ErrStaleSignature, time.Unix(sec, 0).UTC().Format(time.RFC3339), age.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
