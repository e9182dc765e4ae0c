package exchange

import (
	"encoding/hex"
	"math/rand/v2"

	"go.opentelemetry.io/otel/trace"
)

// childTraceparent returns the W3C traceparent of a delivered record. When
// the publisher sent a valid traceparent, the delivery continues that trace:
// same trace id and flags, a new span id as the child. Otherwise it is a
// child of the batch span when that is valid (a tracer is configured), and a
// new trace if not.
func childTraceparent(parent string, batch trace.SpanContext) string {
	return string(appendChildTraceparent(nil, parent, batch))
}

// appendChildTraceparent appends childTraceparent's value to dst.
func appendChildTraceparent(dst []byte, parent string, batch trace.SpanContext) []byte {
	if tid, flags, ok := parseTraceparent(parent); ok {
		return appendTraceparent(dst, tid, newSpanID(), flags)
	}
	if batch.IsValid() {
		return appendTraceparent(dst, batch.TraceID(), newSpanID(), batch.TraceFlags())
	}
	var tid trace.TraceID
	for tid == (trace.TraceID{}) {
		putUint64(tid[:8], rand.Uint64())
		putUint64(tid[8:], rand.Uint64())
	}
	return appendTraceparent(dst, tid, newSpanID(), 0)
}

// parseTraceparent reads a version-00 traceparent
// ("00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"). Invalid
// values (wrong length, upper case, all-zero ids, version ff) are rejected.
func parseTraceparent(s string) (trace.TraceID, trace.TraceFlags, bool) {
	var tid trace.TraceID
	// Later versions may append fields after the flags; the first 55 bytes
	// keep the version-00 layout.
	if len(s) < 55 || (len(s) > 55 && s[55] != '-') || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return tid, 0, false
	}
	if !isLowerHex(s[:2]) || s[:2] == "ff" || (s[:2] == "00" && len(s) != 55) {
		return tid, 0, false
	}
	if !isLowerHex(s[3:35]) || !isLowerHex(s[36:52]) || !isLowerHex(s[53:55]) {
		return tid, 0, false
	}
	if _, err := hex.Decode(tid[:], []byte(s[3:35])); err != nil || !tid.IsValid() {
		return tid, 0, false
	}
	var sid trace.SpanID
	if _, err := hex.Decode(sid[:], []byte(s[36:52])); err != nil || !sid.IsValid() {
		return tid, 0, false
	}
	var f [1]byte
	if _, err := hex.Decode(f[:], []byte(s[53:55])); err != nil {
		return tid, 0, false
	}
	return tid, trace.TraceFlags(f[0]), true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for sid == (trace.SpanID{}) {
		putUint64(sid[:], rand.Uint64())
	}
	return sid
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func appendTraceparent(dst []byte, tid trace.TraceID, sid trace.SpanID, flags trace.TraceFlags) []byte {
	dst = append(dst, "00-"...)
	dst = hex.AppendEncode(dst, tid[:])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, sid[:])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, []byte{byte(flags)})
}
