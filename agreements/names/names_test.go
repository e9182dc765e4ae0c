package names_test

import (
	"testing"

	"github.com/exchange-gov/exchange/agreements/names"
)

func TestBuild(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{names.Ingress("health.immunisations"), "ingress.health.immunisations"},
		{names.Quarantine("health.immunisations"), "quarantine.health.immunisations"},
		{names.Deliver("social-services", "health-to-social-2026-001"), "deliver.social-services.health-to-social-2026-001"},
		{names.Notices("tax"), "notices.tax"},
		{names.IngressSubject("tax.income-assessments"), "ingress.tax.income-assessments-value"},
		{names.DeliverSubject("statistics", "a-1"), "deliver.statistics.a-1-value"},
		{names.DeliverPrefixOf("statistics"), "deliver.statistics."},
		{names.GroupPrefixOf("health"), "health."},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	if d, ok := names.DatasetOfIngress("ingress.health.immunisations"); !ok || d != "health.immunisations" {
		t.Errorf("DatasetOfIngress = %q, %v", d, ok)
	}
	for _, topic := range []string{"ingress.", "deliver.x.y", "ingressx", ""} {
		if d, ok := names.DatasetOfIngress(topic); ok {
			t.Errorf("DatasetOfIngress(%q) = %q, want not ok", topic, d)
		}
	}
	if c, ok := names.ConsumerOfDeliver(names.Deliver("social-services", "a.b")); !ok || c != "social-services" {
		t.Errorf("ConsumerOfDeliver = %q, %v", c, ok)
	}
	for _, topic := range []string{"deliver.", "deliver.x", "deliver..a", "ingress.a.b"} {
		if c, ok := names.ConsumerOfDeliver(topic); ok {
			t.Errorf("ConsumerOfDeliver(%q) = %q, want not ok", topic, c)
		}
	}
}
