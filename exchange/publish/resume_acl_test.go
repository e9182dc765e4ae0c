package publish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/exchange-gov/exchange/exchange/kafkaclient"
	"github.com/exchange-gov/exchange/exchange/tools/kafkatest"
)

// TestResumeUnderACLs: an agency has WRITE and DESCRIBE on its ingress
// topic, not READ (IDENTITY.md). Its import saves checkpoints and resumes
// when nothing was written after the checkpoint; when something was, the
// resume stops with an error naming the missing READ rather than guess,
// and a principal that may read the topic resumes it exactly once.
func TestResumeUnderACLs(t *testing.T) {
	const topic = "ingress.health.visits"
	b := kafkatest.Kfake(t, []string{"admin"}, []string{"health"}, kfake.SeedTopics(3, topic))
	clientsAs := func(user string) *kafkaclient.Clients {
		file := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(file, []byte(b.Passwords[user]), 0o600); err != nil {
			t.Fatal(err)
		}
		kc, err := kafkaclient.New(kafkaclient.Config{Brokers: b.Brokers,
			SASL: &kafkaclient.SASL{Mechanism: kafkaclient.ScramSHA512, Username: user, PasswordFile: file}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kc.Close)
		return kc
	}
	admin, health := clientsAs("admin"), clientsAs("health")
	var acls []kafka.ACLEntry
	for _, op := range []kafka.ACLOperationType{kafka.ACLOperationTypeWrite, kafka.ACLOperationTypeDescribe} {
		acls = append(acls, kafka.ACLEntry{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			ResourcePatternType: kafka.PatternTypeLiteral, Principal: "User:health", Host: "*",
			Operation: op, PermissionType: kafka.ACLPermissionTypeAllow})
	}
	res, err := admin.Admin().CreateACLs(context.Background(), &kafka.CreateACLsRequest{ACLs: acls})
	if err != nil || res.Errors[0] != nil || res.Errors[1] != nil {
		t.Fatalf("CreateACLs: %v %+v", err, res)
	}

	w := newResumeWorldOn(t, 500, health)
	enc := smallEncoder(t)
	// Interrupted between batches: nothing after the checkpoint, no scan.
	if _, _, err := w.run(t, enc, func(s Summary) bool { return s.Published == 100 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	var saved []byte
	_, _, err = w.run(t, enc, func(s Summary) bool {
		if s.Published == 200 {
			saved, _ = os.ReadFile(w.cp)
		}
		return s.Published == 300
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("resumed without READ, nothing written after the checkpoint: %v", err)
	}
	// Records acknowledged after the checkpoint: finding them needs READ.
	if err := os.WriteFile(w.cp, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = w.run(t, enc, nil)
	if err == nil || !strings.Contains(err.Error(), "needs READ on the topic") || !kafkatest.Denied(err) {
		t.Fatalf("resume without READ after records past the checkpoint: %v", err)
	}
	w.kc = admin
	if _, sum, err := w.run(t, enc, nil); err != nil || sum.Published != 500 || sum.Resumed != 100 {
		t.Fatalf("resume as a principal that may read: summary %+v, err %v", sum, err)
	}
	counts := w.countKeys(t)
	if len(counts) != 500 {
		t.Errorf("%d distinct keys, want 500", len(counts))
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s published %d times", k, n)
		}
	}
}
