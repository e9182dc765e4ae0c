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

	codecs := schemas.NewCodecs(reg)
	frame, _ := codecs.Encode(ctx, id, map[string]any{"id": "b-1", "weight_grams": 3400})
	gotID, v, _ := codecs.Decode(ctx, frame)
	fmt.Println(gotID, v.(map[string]any)["weight_grams"])

	_, _, err = codecs.Decode(ctx, []byte{0, 0, 0, 0, 99, 1})
	fmt.Println(schemas.ReasonCode(err))
	// Output:
	// field "weight_grams" (record civil.Birth): writer type "int" cannot be read as reader type "string" (BACKWARD: new schema must read data written with version 1)
	// 1 3400
	// schema:unknown_id
}
