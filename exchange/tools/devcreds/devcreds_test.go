package devcreds

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestWriteAgencies(t *testing.T) {
	data := t.TempDir()
	e := Endpoints{Brokers: "127.0.0.1:9092", Registry: "http://127.0.0.1:8080/registry"}
	if err := WriteAgencies(data, e, map[string]string{"health": "pw-h", "tax": "pw-t"}); err != nil {
		t.Fatal(err)
	}
	if got := Agencies(data); !slices.Equal(got, []string{"health", "tax"}) {
		t.Fatalf("agencies %v", got)
	}
	b, _ := os.ReadFile(AgencyFile(data, "health"))
	for _, want := range []string{"bootstrap.servers=127.0.0.1:9092\n", "sasl.password=pw-h\n", "schema.registry.url=http://127.0.0.1:8080/registry\n", "basic.auth.user.info=health:pw-h\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("health.properties lacks %q:\n%s", want, b)
		}
	}
	// An agency gone from the policy loses its files.
	if err := WriteAgencies(data, e, map[string]string{"health": "pw-h"}); err != nil {
		t.Fatal(err)
	}
	if got := Agencies(data); !slices.Equal(got, []string{"health"}) {
		t.Fatalf("after tax left: %v", got)
	}
	if _, err := os.Stat(JavaFile(data, "tax")); !os.IsNotExist(err) {
		t.Errorf("tax.java.properties stayed: %v", err)
	}
	if Password(func(l string) []byte { return []byte(l) }, "a") == Password(func(l string) []byte { return []byte(l) }, "b") {
		t.Error("two users, one password")
	}
}
