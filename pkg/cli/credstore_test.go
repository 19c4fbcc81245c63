package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/evctl/evctl/pkg/control/sink/kafka/gcpsmfake"
)

// TestCredentialsStoreFakeSecretManager: with credentials: {store: gcpsm://projects/P}, apply
// keeps every team's password in (a fake of) GCP Secret Manager, one secret per team and
// environment, and nothing on disk; the team logs in to kfake with it; a rotation adds the new
// password as the secret's next version and the broker takes it. A malformed store is a lint
// error at its line and column.
func TestCredentialsStoreFakeSecretManager(t *testing.T) {
	fake := gcpsmfake.Start(t, "acme", "")
	e := newPAEnv(t)
	cfg, err := os.ReadFile(filepath.Join(e.dir, "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	withStore := strings.Replace(string(cfg), "    credentials_dir: .evctl/credentials\n", "    credentials: {store: \"gcpsm://projects/acme\"}\n", 1)
	if withStore == string(cfg) {
		t.Fatal("the test config has no credentials_dir line")
	}
	e.writeFile("evctl.yaml", withStore)
	e.vars["EVCTL_GCPSM_ENDPOINT"] = fake.URL

	out, _ := e.mustRun(0, "apply", "--env", "local", "--auto-approve")
	if !strings.Contains(out, "0 failed") {
		t.Fatalf("apply:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.dir, ".evctl", "credentials")); err == nil {
		t.Fatal("team passwords were written to .evctl/credentials")
	}
	login := func(team, pw string) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.kc.Addrs[0]), kgo.SASL(scram.Auth{User: team, Pass: pw}.AsSha512Mechanism()))
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.Ping(context.Background())
	}
	for _, team := range []string{"growth", "analytics"} {
		v := fake.Versions("evctl-local-kafka-" + team)
		if len(v) != 1 {
			t.Fatalf("secret of %s: %d versions (secrets %v)", team, len(v), fake.SecretIDs())
		}
		if err := login(team, v[0]); err != nil {
			t.Fatalf("%s cannot log in with its stored password: %v", team, err)
		}
	}

	e.mustRun(0, "apply", "--env", "local", "--auto-approve", "--rotate-credentials", "growth")
	v := fake.Versions("evctl-local-kafka-growth")
	if len(v) != 2 || v[0] == v[1] || slices.Contains(fake.SecretIDs(), "evctl-local-kafka-growth--next") {
		t.Fatalf("after rotation: %d versions, secrets %v", len(v), fake.SecretIDs())
	}
	if err := login("growth", v[1]); err != nil {
		t.Fatalf("the rotated password does not log in: %v", err)
	}
	if err := login("growth", v[0]); err == nil {
		t.Fatal("the old password still logs in after the rotation")
	}
	for _, pw := range append(v, append(fake.Versions("evctl-local-kafka-analytics"), e.kc.AdminPassword)...) {
		if strings.Contains(e.outputs.String(), pw) {
			t.Fatal("a password was printed")
		}
	}

	e.writeFile("evctl.yaml", strings.Replace(withStore, "gcpsm://projects/acme", "gcpsm://acme", 1))
	code, out, errOut := e.run("lint")
	if code != 1 || !strings.Contains(out+errOut, "evctl.yaml:") || !strings.Contains(out+errOut, `credentials.store "gcpsm://acme" must be file://<folder> or gcpsm://projects/<project>`) {
		t.Fatalf("lint of a malformed store: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCredentialsOnCIRunner: on a GitHub Actions runner the default file store neither
// generates nor rotates a team password (it would be lost with the job): the users fail with what to do,
// nothing is written under .evctl/credentials; with EVCTL_KAFKA_PASSWORD_<TEAM> set they apply.
func TestCredentialsOnCIRunner(t *testing.T) {
	e := newPAEnv(t)
	e.vars["GITHUB_ACTIONS"] = "true"
	cfg, err := os.ReadFile(filepath.Join(e.dir, "evctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The default store (.evctl/credentials/<env>); an explicit credentials_dir is left alone.
	e.writeFile("evctl.yaml", strings.Replace(string(cfg), "    credentials_dir: .evctl/credentials\n", "", 1))
	code, out, errOut := e.run("apply", "--env", "local", "--auto-approve")
	if code != 1 || !strings.Contains(out, `team "growth" has no Kafka password here`) || !strings.Contains(out, "EVCTL_KAFKA_PASSWORD_GROWTH") {
		t.Fatalf("apply on a runner without team passwords: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(e.dir, ".evctl", "credentials")); err == nil {
		t.Fatal("a team password was generated on the runner")
	}
	e.vars["EVCTL_KAFKA_PASSWORD_GROWTH"] = "growth-pw-1234567890"
	e.vars["EVCTL_KAFKA_PASSWORD_ANALYTICS"] = "analytics-pw-1234567890"
	if out, _ := e.mustRun(0, "apply", "--env", "local", "--auto-approve", "--retry-failed"); !strings.Contains(out, "0 failed") {
		t.Fatalf("apply with the passwords set:\n%s", out)
	}
	delete(e.vars, "EVCTL_KAFKA_PASSWORD_GROWTH")
	if code, out, errOut := e.run("apply", "--env", "local", "--auto-approve", "--rotate-credentials", "growth"); code != 1 || !strings.Contains(out+errOut, "rotated on a CI runner is lost") {
		t.Fatalf("rotate on a runner: exit %d\n%s%s", code, out, errOut)
	}
}
