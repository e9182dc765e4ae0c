package schemas

import (
	"encoding/binary"
	"fmt"
)

// The Confluent wire format: byte 0 is the magic 0, bytes 1-4 the schema
// id as a big-endian uint32, the rest the Avro binary body.
const (
	magicByte = 0
	// FrameHeaderSize is the length of the magic byte plus the schema id.
	FrameHeaderSize = 5
)

// ParseFrame splits a framed value into its schema id and Avro body. The
// body aliases b. Errors are *FrameError matching ErrMalformedFrame.
func ParseFrame(b []byte) (schemaID int, body []byte, err error) {
	if len(b) < FrameHeaderSize {
		return 0, nil, &FrameError{SchemaID: -1, Kind: ErrMalformedFrame,
			Detail: fmt.Sprintf("value is %d bytes, shorter than the %d-byte header", len(b), FrameHeaderSize)}
	}
	if b[0] != magicByte {
		return 0, nil, &FrameError{SchemaID: -1, Kind: ErrMalformedFrame,
			Detail: fmt.Sprintf("magic byte is 0x%02x, want 0x00", b[0])}
	}
	id := binary.BigEndian.Uint32(b[1:5])
	if id == 0 || id > maxSchemaID {
		return 0, nil, &FrameError{SchemaID: -1, Kind: ErrMalformedFrame,
			Detail: fmt.Sprintf("schema id %d out of range 1..%d", id, maxSchemaID)}
	}
	return int(id), b[FrameHeaderSize:], nil
}

// maxSchemaID keeps ids positive in a 32-bit int (Confluent ids are Java
// ints).
const maxSchemaID = 1<<31 - 1

// AppendFrame appends the 5-byte header for schemaID to dst; append the
// Avro body after it.
func AppendFrame(dst []byte, schemaID int) []byte {
	return append(dst, magicByte, byte(schemaID>>24), byte(schemaID>>16), byte(schemaID>>8), byte(schemaID))
}
