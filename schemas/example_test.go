package schemas_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/exchange-gov/exchange/schemas"
)

func Example() {
	ctx := context.Background()
	reg := schemas.NewRegistry(schemas.NewMemoryStore(), schemas.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	v1 := `{"type":"record","name":"Birth","namespace":"civil","fields":[
		{"name":"id","type":"string"},{"name":"weight_grams","type":"int"}]}`
	id, err := reg.Register(ctx, "ingress.civil-registry.births-value", v1)
	if err != nil {
		panic(err)
	}

	// Under BACKWARD (the default) the new version must read old data:
	// an int field cannot become a string.
	v2 := `{"type":"record","name":"Birth","namespace":"civil","fields":[
		{"name":"id","type":"string"},{"name":"weight_grams","type":"string"}]}`
	_, err = reg.Register(ctx, "ingress.civil-registry.births-value", v2)
	var ie *schemas.IncompatibleError
	if errors.As(err, &ie) {
		fmt.Println(ie.Messages[0])
	}

	// The wire format: magic byte 0, the id, then the Avro body.
	frame := append(schemas.AppendFrame(nil, id), 0x02, 'b')
	gotID, body, _ := schemas.ParseFrame(frame)
	fmt.Println(gotID, len(body))

	_, _, err = schemas.ParseFrame([]byte{1, 0, 0, 0, 1})
	fmt.Println(errors.Is(err, schemas.ErrMalformedFrame), err)
	// Output:
	// field "weight_grams" (record civil.Birth): writer type "int" cannot be read as reader type "string" (BACKWARD: new schema must read data written with version 1)
	// 1 2
	// true malformed frame: magic byte is 0x01, want 0x00
}
