package schemas_test

import (
	"testing"

	"github.com/exchange-gov/exchange/schemas"
	"github.com/exchange-gov/exchange/schemas/schematest"
)

func TestMemoryStoreConformance(t *testing.T) {
	schematest.RunStoreConformance(t, func(*testing.T) schemas.Store { return schemas.NewMemoryStore() })
}
