package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// loginErr logs in to the cluster as user with SASL/SCRAM-SHA-512 (franz-go, kfake).
func loginErr(t *testing.T, e *paEnv, user, pw string) error {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.kc.Addrs...), kgo.SASL(scram.Auth{User: user, Pass: pw}.AsSha512Mechanism()), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// TestAttackRotateCredentialsCLI: `apply --rotate-credentials growth` plans, applies and audits
// an update of the team's kafka_user, the new password logs in and the old one does not, and the
// next plan is clean.
func TestAttackRotateCredentialsCLI(t *testing.T) {
	e := newPAEnv(t)
	e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	pwFile := filepath.Join(e.dir, ".evctl", "credentials", "growth.password")
	read := func() string {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	old := read()
	if err := loginErr(t, e, "growth", old); err != nil {
		t.Fatalf("login before rotation: %v", err)
	}
	out, _ := e.mustRun(0, "apply", "--env", "local", "--auto-approve", "--rotate-credentials", "growth", "-o", "json")
	var rep struct {
		Results []struct{ Kind, Name, Action, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, r := range rep.Results {
		if r.Kind == "kafka_user" && r.Name == "growth" {
			found = r.Action == "update" && r.Status == "ok"
		}
	}
	if !found {
		t.Fatalf("apply did not update the growth user:\n%s", out)
	}
	now := read()
	if now == old {
		t.Fatal("the password did not change")
	}
	if err := loginErr(t, e, "growth", now); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	if err := loginErr(t, e, "growth", old); err == nil {
		t.Fatal("the old password still logs in")
	}
	e.mustRun(0, "plan", "--env", "local", "--detailed-exitcode")
	// The audit records the update, and no password.
	audits, _ := filepath.Glob(filepath.Join(e.dir, ".evctl", "state", "local", "audit", "*.json"))
	last := ""
	for _, a := range audits {
		if b, _ := os.ReadFile(a); strings.Contains(string(b), `"kafka_user"`) && strings.Contains(string(b), `"update"`) {
			last = string(b)
		}
		if b, _ := os.ReadFile(a); strings.Contains(string(b), now) || strings.Contains(string(b), old) {
			t.Errorf("a password in the audit %s", a)
		}
	}
	if last == "" {
		t.Errorf("no audit record of the kafka_user update in %v", audits)
	}
}
