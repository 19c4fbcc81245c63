package kafka_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// TestPatchedKfakeACLSet covers the patch in third_party/kfake: ACLs are deduplicated through a
// set that deletion must keep in step, so an ACL deleted and created again is there again, and a
// duplicate created twice is listed once.
func TestPatchedKfakeACLSet(t *testing.T) {
	ctx := context.Background()
	adm := kafkatest.Admin(t, kafkatest.Start(t)).Admin()
	acl := kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("patched.topic").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	count := func() int {
		t.Helper()
		res, err := adm.DescribeACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("patched.topic").Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternMatch))
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		n := 0
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("describe: %v", r.Err)
			}
			n += len(r.Described)
		}
		return n
	}
	for i, step := range []struct {
		create bool
		want   int
	}{{true, 1}, {true, 1}, {false, 0}, {true, 1}} {
		if step.create {
			if _, err := adm.CreateACLs(ctx, acl); err != nil {
				t.Fatalf("step %d: create: %v", i, err)
			}
		} else if _, err := adm.DeleteACLs(ctx, acl); err != nil {
			t.Fatalf("step %d: delete: %v", i, err)
		}
		if got := count(); got != step.want {
			t.Fatalf("step %d: %d ACLs listed, want %d", i, got, step.want)
		}
	}
}
