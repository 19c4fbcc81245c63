package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

func userWant(team string) sink.Desired {
	return sink.Desired{Kind: kafka.KindUser, Name: kafka.UserName(team), Spec: kafka.NewUserSpec(team)}
}

func aclWant(topic string, producers, consumers []string) sink.Desired {
	return sink.Desired{Event: "feed/x", Kind: kafka.KindACL, Name: topic, Spec: kafka.NewACLSpec(topic, producers, consumers)}
}

// teamClient logs in as team with the password the credential store holds.
func teamClient(t *testing.T, kc *kafkatest.Cluster, creds kafka.Credentials, team string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	pw, _, err := creds.Password(team)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kafka.Connect(testCtx(t), kafka.Config{
		Brokers: kc.Addrs,
		SASL:    kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: kafka.UserName(team), Password: pw},
		Opts:    opts,
	})
	if err != nil {
		t.Fatalf("connect as %s: %v", team, err)
	}
	t.Cleanup(c.Close)
	return c.Kgo()
}

func produce(ctx context.Context, cl *kgo.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

// TestLeastPrivilege provisions topics, team users and ACLs, then logs in as each team and checks
// what it can and cannot do on the real broker.
func TestLeastPrivilege(t *testing.T) {
	kc := kafkatest.Start(t)
	admin := kafkatest.Admin(t, kc)
	creds := kafka.NewFileCredentials(t.TempDir(), noEnv)
	topics, users, acls := kafka.NewTopicSink(admin), kafka.NewUserSink(admin, creds), kafka.NewACLSink(admin, "growth", "analytics", "payments")

	const played, paid = "local.feed.video_played.v1", "local.billing.paid.v1"
	applyAll(t, topics, plan(t, topics, topicWant(played, kafka.TopicSpec{Partitions: 1}), topicWant(paid, kafka.TopicSpec{Partitions: 1})))
	applyAll(t, users, plan(t, users, userWant("growth"), userWant("analytics"), userWant("payments")))
	aclsWant := []sink.Desired{aclWant(played, []string{"growth"}, []string{"analytics"}), aclWant(paid, []string{"payments"}, nil)}
	cs := plan(t, acls, aclsWant...)
	wantDiff := []sink.DiffEntry{
		{Path: "acl.User:analytics.DESCRIBE", To: "allow"},
		{Path: "acl.User:analytics.READ", To: "allow"},
		{Path: "acl.User:analytics.group:analytics.*.READ", To: "allow"},
		{Path: "acl.User:growth.DESCRIBE", To: "allow"},
		{Path: "acl.User:growth.WRITE", To: "allow"},
	}
	if cs[0].Action != sink.Create || !reflect.DeepEqual(cs[0].Diff, wantDiff) {
		t.Fatalf("first acl plan: %s %+v", cs[0].Action, cs[0].Diff)
	}
	creates := countRequests(kc, kmsg.CreateACLs, nil)
	applyAll(t, acls, cs)
	if n := creates.Load(); n != 1 {
		t.Errorf("create acls requests = %d, want 1", n)
	}
	if got := actions(plan(t, acls, aclsWant...)); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Noop}) {
		t.Fatalf("acls after apply: %v", got)
	}
	if got := actions(plan(t, users, userWant("growth"))); got[0] != sink.Noop {
		t.Fatalf("user after apply: %v", got)
	}

	ctx := testCtx(t)
	growth := teamClient(t, kc, creds, "growth")
	if err := produce(ctx, growth, played); err != nil {
		t.Fatalf("growth produces to its topic: %v", err)
	}
	if err := produce(ctx, growth, paid); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("growth produces to another team's topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	analytics := teamClient(t, kc, creds, "analytics",
		kgo.ConsumeTopics(played), kgo.ConsumerGroup("analytics.dashboards"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	pollCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got int
	for got == 0 {
		fs := analytics.PollFetches(pollCtx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("analytics consumes with group analytics.dashboards: %v", err)
		}
		got += fs.NumRecords()
	}
	// An idempotent producer is stopped at InitProducerID (no WRITE anywhere), a plain one at the
	// topic.
	if err := produce(ctx, analytics, played); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("consumer team produces idempotently: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	plain := teamClient(t, kc, creds, "analytics", kgo.DisableIdempotentWrite())
	if err := produce(ctx, plain, played); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("consumer team produces: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Drift by hand: an ACL removed and an ACL added for a managed team both show up.
	adm := admin.Admin()
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics(played).ResourcePatternType(kadm.ACLPatternLiteral).
		Operations(kadm.OpWrite).Allow("User:growth").AllowHosts("*")); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics(played).ResourcePatternType(kadm.ACLPatternLiteral).
		Operations(kadm.OpRead).Allow("User:payments")); err != nil {
		t.Fatal(err)
	}
	cs = plan(t, acls, aclsWant...)
	wantDiff = []sink.DiffEntry{{Path: "acl.User:growth.WRITE", To: "allow"}, {Path: "acl.User:payments.READ", From: "allow"}}
	if cs[0].Action != sink.Update || !reflect.DeepEqual(cs[0].Diff, wantDiff) {
		t.Fatalf("acl drift: %s %+v, want update %+v", cs[0].Action, cs[0].Diff, wantDiff)
	}
	deletes := countRequests(kc, kmsg.DeleteACLs, nil)
	applyAll(t, acls, cs)
	if n := deletes.Load(); n != 1 {
		t.Errorf("delete acls requests = %d, want 1", n)
	}
	if got := actions(plan(t, acls, aclsWant...)); !reflect.DeepEqual(got, []sink.Action{sink.Noop, sink.Noop}) {
		t.Fatalf("acls after repair: %v", got)
	}

	// An unmanaged principal's ACL on the topic is left alone.
	if _, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics(played).ResourcePatternType(kadm.ACLPatternLiteral).
		Operations(kadm.OpRead).Allow("User:ops")); err != nil {
		t.Fatal(err)
	}
	if got := plan(t, acls, aclsWant...)[0]; got.Action != sink.Noop {
		t.Fatalf("unmanaged acl shows as %s %+v", got.Action, got.Diff)
	}

	// The event goes away: its topic bindings go, the unmanaged one stays, and growth is locked out.
	gone := aclsWant[0]
	gone.Absent = true
	cs = plan(t, acls, gone)
	if cs[0].Action != sink.Delete || len(cs[0].Diff) != 4 {
		t.Fatalf("absent acls: %s %+v", cs[0].Action, cs[0].Diff)
	}
	applyAll(t, acls, cs)
	if got := plan(t, acls, gone)[0].Action; got != sink.Noop {
		t.Fatalf("absent acls after delete: %s", got)
	}
	described, err := adm.DescribeACLs(ctx, kadm.NewACLs().Topics(played).ResourcePatternType(kadm.ACLPatternLiteral).
		Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, r := range described {
		for _, d := range r.Described {
			left = append(left, d.Principal+" "+d.Operation.String())
		}
	}
	if !reflect.DeepEqual(left, []string{"User:ops READ"}) {
		t.Fatalf("acls left on the topic: %v", left)
	}
	fresh := teamClient(t, kc, creds, "growth")
	if err := produce(ctx, fresh, played); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("growth produces after its acls were deleted: %v", err)
	}
}

func TestUserRotateAndDelete(t *testing.T) {
	kc := kafkatest.Start(t)
	admin := kafkatest.Admin(t, kc)
	creds := kafka.NewFileCredentials(t.TempDir(), noEnv)
	users := kafka.NewUserSink(admin, creds)

	cs := plan(t, users, userWant("growth"))
	if cs[0].Action != sink.Create || !reflect.DeepEqual(cs[0].Diff, []sink.DiffEntry{{Path: "scram.SCRAM-SHA-512", To: "set"}}) {
		t.Fatalf("first plan: %s %+v", cs[0].Action, cs[0].Diff)
	}
	for range 2 { // repeating a create is an upsert of the same password
		applyAll(t, users, cs)
	}
	old, _, _ := creds.Password("growth")
	teamClient(t, kc, creds, "growth")

	rot := userWant("growth")
	spec := kafka.NewUserSpec("growth")
	spec.Rotate = true
	rot.Spec = spec
	cs = plan(t, users, rot)
	if cs[0].Action != sink.Update || !reflect.DeepEqual(cs[0].Diff, []sink.DiffEntry{{Path: "scram.SCRAM-SHA-512", From: "set", To: "rotated"}}) {
		t.Fatalf("rotate plan: %s %+v", cs[0].Action, cs[0].Diff)
	}
	applyAll(t, users, cs)
	if now, _, _ := creds.Password("growth"); now == old {
		t.Fatal("rotate kept the password")
	}
	teamClient(t, kc, creds, "growth") // the new password logs in
	ctx, cancel := context.WithTimeout(testCtx(t), 5*time.Second)
	defer cancel()
	if _, err := kafka.Connect(ctx, kafka.Config{Brokers: kc.Addrs,
		SASL: kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: "growth", Password: old}}); err == nil {
		t.Fatal("the old password still logs in")
	} else if strings.Contains(err.Error(), old) {
		t.Fatal("a login error contains the password")
	}

	// A live user whose password is not in the store is reported, never silently rotated.
	other := kafka.NewUserSink(admin, kafka.NewFileCredentials(t.TempDir(), noEnv))
	if c := plan(t, other, userWant("growth"))[0]; c.Action != sink.Noop || !strings.Contains(c.Reason, "EVCTL_KAFKA_PASSWORD_GROWTH") {
		t.Fatalf("user without a stored secret: %s %q", c.Action, c.Reason)
	}

	gone := userWant("growth")
	gone.Absent = true
	cs = plan(t, users, gone)
	if cs[0].Action != sink.Delete {
		t.Fatalf("absent user: %s", cs[0].Action)
	}
	for range 2 {
		applyAll(t, users, cs)
	}
	if got := plan(t, users, gone)[0].Action; got != sink.Noop {
		t.Fatalf("absent user after delete: %s", got)
	}
}

// TestSecretsNeverLeak provokes failures around a known password and checks it appears in no
// change, diff, spec JSON, error or printed config.
func TestSecretsNeverLeak(t *testing.T) {
	kc := kafkatest.Start(t)
	admin := kafkatest.Admin(t, kc)
	const pw = "s3cr3t-team-password-do-not-print"
	env := map[string]string{kafka.PasswordEnv("growth"): pw}
	creds := kafka.NewFileCredentials(t.TempDir(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	users := kafka.NewUserSink(admin, creds)

	want := userWant("growth")
	cs := plan(t, users, want)
	kc.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AlterUserSCRAMCredentials}, Resource: "growth", Err: kerr.UnacceptableCredential})
	applyErr := users.Apply(testCtx(t), cs[0])
	if !errors.Is(applyErr, kerr.UnacceptableCredential) {
		t.Fatalf("apply with a fault: %v", applyErr)
	}
	applyAll(t, users, cs) // the fault answered one request; the retry works
	rot := want
	rot.Spec = kafka.UserSpec{Team: "growth", User: "growth", Mechanism: kafka.MechanismScramSHA512, Rotate: true}
	rotCs := plan(t, users, rot)
	rotErr := users.Apply(testCtx(t), rotCs[0]) // rotating an env-supplied password fails

	badMech := sink.Change{Kind: kafka.KindUser, Name: "growth", Action: sink.Create,
		Desired: &sink.Desired{Name: "growth", Spec: kafka.UserSpec{Team: "growth", User: "growth", Mechanism: "MD5"}}}
	mechErr := users.Apply(testCtx(t), badMech)

	ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second)
	defer cancel()
	cfg := kafka.Config{Brokers: kc.Addrs, SASL: kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: "growth", Password: pw + "x"}}
	_, loginErr := kafka.Connect(ctx, cfg)

	specJSON, _ := json.Marshal(want.Spec)
	changesJSON, _ := json.Marshal(append(cs, rotCs...))
	texts := map[string]string{
		"spec json":    string(specJSON),
		"changes json": string(changesJSON),
		"changes %+v":  fmt.Sprintf("%+v %+v", cs, rotCs),
		"config %v":    fmt.Sprintf("%v", cfg),
		"config %+v":   fmt.Sprintf("%+v", cfg),
		"config %#v":   fmt.Sprintf("%#v", cfg),
	}
	for name, err := range map[string]error{"apply": applyErr, "rotate": rotErr, "mechanism": mechErr, "login": loginErr} {
		if err == nil {
			t.Errorf("%s: want an error", name)
			continue
		}
		texts[name+" error"] = err.Error()
	}
	for name, text := range texts {
		if strings.Contains(text, pw) {
			t.Errorf("%s contains the password: %s", name, text)
		}
	}
}

func TestACLDiff(t *testing.T) {
	const topic = "t"
	b := func(principal string, op kmsg.ACLOperation) kafka.ACLBinding {
		return kafka.ACLBinding{Principal: principal, Host: "*", Type: kmsg.ACLResourceTypeTopic, Resource: topic,
			Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Permission: kmsg.ACLPermissionTypeAllow}
	}
	full := kafka.NewACLSpec(topic, []string{"growth"}, nil).Bindings()
	deny := b("User:growth", kmsg.ACLOperationRead)
	deny.Permission, deny.Host = kmsg.ACLPermissionTypeDeny, "10.0.0.1"
	tests := []struct {
		name       string
		absent     bool
		have       []kafka.ACLBinding
		wantAction sink.Action
		wantDiff   []sink.DiffEntry
	}{
		{name: "none live", wantAction: sink.Create, wantDiff: []sink.DiffEntry{
			{Path: "acl.User:growth.DESCRIBE", To: "allow"}, {Path: "acl.User:growth.WRITE", To: "allow"}}},
		{name: "equal", have: full, wantAction: sink.Noop},
		{name: "one missing", have: full[:1], wantAction: sink.Update, wantDiff: []sink.DiffEntry{{Path: "acl.User:growth.WRITE", To: "allow"}}},
		{name: "extra deny from a host", have: append(append([]kafka.ACLBinding{}, full...), deny), wantAction: sink.Update,
			wantDiff: []sink.DiffEntry{{Path: "acl.User:growth.READ", From: "deny from 10.0.0.1"}}},
		{name: "absent", absent: true, have: full, wantAction: sink.Delete, wantDiff: []sink.DiffEntry{
			{Path: "acl.User:growth.DESCRIBE", From: "allow"}, {Path: "acl.User:growth.WRITE", From: "allow"}}},
		{name: "absent and none live", absent: true, wantAction: sink.Noop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := aclWant(topic, []string{"growth"}, nil)
			d.Absent = tt.absent
			o := sink.Observed{Kind: kafka.KindACL, Name: topic, Exists: len(tt.have) > 0, Spec: tt.have}
			cs, err := kafka.NewACLSink(nil).Diff([]sink.Desired{d}, []sink.Observed{o})
			if err != nil {
				t.Fatal(err)
			}
			if cs[0].Action != tt.wantAction || !reflect.DeepEqual(cs[0].Diff, tt.wantDiff) {
				t.Fatalf("got %s %+v, want %s %+v", cs[0].Action, cs[0].Diff, tt.wantAction, tt.wantDiff)
			}
		})
	}
}
