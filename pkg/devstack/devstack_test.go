package devstack_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/devstack"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

const devConfig = `version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,   type: string,    mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
teams:
  growth:    {pods: [feed], github: ["@acme/growth"]}
  analytics: {pods: [core], github: ["@acme/analytics"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: [%q], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: "gs://evctl-local/descriptors"}
    state: {url: "gs://evctl-local/state"}
    credentials_dir: .evctl/credentials
`

const devEvent = `name: item_clicked
domain: feed
owner: {team: growth, pod: feed}
description: A test event.
stage: staging
major: 1
schema:
  fields:
    - {name: item_id, type: string, mode: required, number: 1}
sinks:
  kafka: {partitions: 2, retention: 1d}
access: {producers: [growth], consumers: [analytics]}
`

// devRepo writes a repository whose local environment is at a free Kafka port and on gs://.
func devRepo(t *testing.T) *workspace.Workspace {
	t.Helper()
	dir := t.TempDir()
	for rel, content := range map[string]string{
		"evctl.yaml":                       fmt.Sprintf(devConfig, freeAddr(t)),
		"contracts/feed/item_clicked.yaml": devEvent,
	} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func start(t *testing.T, ws *workspace.Workspace, gcsAddr string) *devstack.Stack {
	t.Helper()
	st, err := devstack.Start(testCtx(t), devstack.Options{Project: ws.Project, Env: "local", GCSAddr: gcsAddr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	// What `. .evctl/dev/env` does for a shell: the gs:// client reads it from the process.
	t.Setenv("STORAGE_EMULATOR_HOST", st.Vars["STORAGE_EMULATOR_HOST"])
	return st
}

// planApply compiles ws, plans against the stack and, when doApply, applies.
func planApply(t *testing.T, ws *workspace.Workspace, st *devstack.Stack, doApply bool) (*plan.Plan, *apply.Report) {
	t.Helper()
	ctx := testCtx(t)
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) > 0 {
		t.Fatalf("lint: %v", rep.Diags)
	}
	target, err := sink.NewTarget(ws.Project, "local", ws.Events, rep.Compiled)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := envconn.Open(ctx, ws.Project, "local", envconn.Options{Getenv: func(k string) string { return st.Vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	want, err := plan.Desire(conn.Registry, target)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := state.Read(ctx, conn.State, "local")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(ctx, conn.Registry, want, plan.Options{Env: "local", State: s, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 {
		t.Fatalf("plan errors: %v", p.Errors)
	}
	if !doApply {
		return p, nil
	}
	r, err := apply.Run(ctx, conn.Registry, conn.State, p, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

// TestStackApplyAndRestart: a fresh stack takes a full apply (SASL and ACLs on, gs:// stores),
// writes an env file with exactly what the environment reads, and after a restart on the same
// directory the persisted cluster and buckets make the next plan a no-op.
func TestStackApplyAndRestart(t *testing.T) {
	ws := devRepo(t)
	gcs := freeAddr(t)
	st := start(t, ws, gcs)

	env, err := os.ReadFile(st.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"export EVCTL_KAFKA_USER='" + devstack.AdminUser + "'",
		"export EVCTL_KAFKA_PASSWORD='" + st.AdminPassword + "'",
		"export STORAGE_EMULATOR_HOST='" + gcs + "'",
	} {
		if !strings.Contains(string(env), line+"\n") {
			t.Errorf("env file lacks %q:\n%s", line, env)
		}
	}
	if fi, err := os.Stat(st.EnvFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode: %v, %v; want 0600", fi.Mode(), err)
	}

	p, rep := planApply(t, ws, st, true)
	if p.Summary.Create != 6 || rep.Failed() {
		t.Fatalf("apply on a fresh stack: %+v, %+v", p.Summary, rep.Results)
	}

	// A team user evctl created logs in with SCRAM and is held to its ACLs.
	pw, err := os.ReadFile(filepath.Join(ws.Root(), ".evctl", "credentials", "growth.password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.Connect(testCtx(t), kafka.Config{Brokers: []string{st.KafkaAddr},
		SASL: kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: "growth", Password: strings.TrimSpace(string(pw))}}); err != nil {
		t.Fatalf("team user cannot log in: %v", err)
	}
	// The client retries a failed login until its context ends; with SASL off it would connect
	// at once, so any error here is the proof.
	short, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	if _, err := kafka.Connect(short, kafka.Config{Brokers: []string{st.KafkaAddr},
		SASL: kafka.SASL{Mechanism: kafka.MechanismScramSHA512, User: "growth", Password: "wrong"}}); err == nil {
		t.Fatalf("a wrong password logs in: SASL is off")
	}

	st.Close()
	st2 := start(t, ws, gcs)
	if st2.AdminPassword != st.AdminPassword {
		t.Fatalf("the admin password changed across a restart")
	}
	if p, _ := planApply(t, ws, st2, false); p.HasChanges() || len(p.Drift) > 0 {
		t.Fatalf("plan after a restart: %+v, drift %v", p.Summary, p.Drift)
	}
}

// TestStackAddressInUse: an address already taken is an error naming it, not a hang.
func TestStackAddressInUse(t *testing.T) {
	ws := devRepo(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := ws.Project.Environments["local"]
	env.Kafka.Brokers = []string{l.Addr().String()}
	ws.Project.Environments["local"] = env
	_, err = devstack.Start(testCtx(t), devstack.Options{Project: ws.Project, Env: "local", GCSAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("start on a taken Kafka port: %v, want an error naming it", err)
	}
}
