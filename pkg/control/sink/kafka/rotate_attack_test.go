package kafka_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// login reports whether user/pw logs in to kc with SASL/SCRAM-SHA-512 (franz-go, a real
// handshake on kfake).
func login(t *testing.T, kc *kafkatest.Cluster, user, pw string) error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Addrs...), kgo.SASL(scram.Auth{User: user, Pass: pw}.AsSha512Mechanism()),
		kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return cl.Ping(testCtx(t))
}

// TestAttackRotateCredentialsLocksTeamOut: rotating a team's password plans and applies an
// update of its kafka_user; the old password keeps logging in until the broker has the new one;
// afterwards the new one logs in, the old one is refused, and the next plan is a noop. A
// rotation cut short before the store promoted the password (the broker already had it) is
// planned again and converges.
func TestAttackRotateCredentialsLocksTeamOut(t *testing.T) {
	kc := kafkatest.Start(t)
	admin := kafkatest.Admin(t, kc)
	creds := kafka.NewFileCredentials(t.TempDir(), noEnv)
	users := kafka.NewUserSink(admin, creds)
	applyAll(t, users, plan(t, users, userWant("growth")))
	old, _, err := creds.Password("growth")
	if err != nil {
		t.Fatal(err)
	}
	if err := login(t, kc, "growth", old); err != nil {
		t.Fatalf("login before rotation: %v", err)
	}

	staged, err := creds.Rotate("growth")
	if err != nil {
		t.Fatal(err)
	}
	cs := plan(t, users, userWant("growth"))
	if cs[0].Action != sink.Update || len(cs[0].Diff) != 1 || cs[0].Diff[0].To != "rotated" {
		t.Fatalf("plan after rotate: %s %+v, want an update", cs[0].Action, cs[0].Diff)
	}
	if err := login(t, kc, "growth", old); err != nil {
		t.Fatalf("the old password stopped working before apply: %v", err)
	}
	applyAll(t, users, cs)
	now, _, _ := creds.Password("growth")
	if now != staged {
		t.Fatalf("the store did not promote the applied password")
	}
	if err := login(t, kc, "growth", now); err != nil {
		t.Fatalf("login with the rotated password: %v", err)
	}
	if err := login(t, kc, "growth", old); err == nil {
		t.Fatalf("the old password still logs in")
	}
	if cs := plan(t, users, userWant("growth")); cs[0].Action != sink.Noop {
		t.Fatalf("plan after apply: %s, want noop", cs[0].Action)
	}

	// Cut short: the broker got the staged password, the store never promoted it.
	staged, err = creds.Rotate("growth")
	if err != nil {
		t.Fatal(err)
	}
	res, err := admin.Admin().AlterUserSCRAMs(context.Background(), nil, []kadm.UpsertSCRAM{{User: "growth", Mechanism: kadm.ScramSha512, Iterations: kafka.ScramIterations, Password: staged}})
	if err != nil || res["growth"].Err != nil {
		t.Fatalf("set by hand: %v %v", err, res)
	}
	cs = plan(t, users, userWant("growth"))
	if cs[0].Action != sink.Update {
		t.Fatalf("plan after a cut-short rotation: %s, want update", cs[0].Action)
	}
	applyAll(t, users, cs)
	if now, _, _ := creds.Password("growth"); now != staged || login(t, kc, "growth", now) != nil {
		t.Fatalf("cut-short rotation did not converge")
	}
}
