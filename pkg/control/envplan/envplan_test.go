package envplan_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// repo writes a synthetic repository of n events whose local environment uses kc and file://
// stores, and opens it.
func repo(t *testing.T, kc *kafkatest.Cluster, n int) *workspace.Workspace {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: n, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
	if err != nil {
		t.Fatal(err)
	}
	env := ws.Project.Environments["local"]
	env.Kafka.Brokers = kc.Addrs
	ws.Project.Environments["local"] = env
	return ws
}

// TestPrepare plans a repository against kfake and file:// stores, the way `evctl plan` does:
// every kind's resources are in the plan, a kind with no server here (BigQuery without the
// emulator variable) is skipped with its reason, not an error.
func TestPrepare(t *testing.T) {
	kc := kafkatest.Start(t)
	ws := repo(t, kc, 4)
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	run, err := envplan.Prepare(testCtx(t), ws, "local", envplan.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	p := run.Plan
	if len(p.Errors) > 0 {
		t.Fatalf("plan errors: %v", p.Errors)
	}
	byKind := map[string]map[sink.Action]int{}
	for _, c := range p.Changes {
		if byKind[c.Kind] == nil {
			byKind[c.Kind] = map[sink.Action]int{}
		}
		byKind[c.Kind][c.Action]++
	}
	if byKind["descriptor"][sink.Create] != 4 || byKind["kafka_topic"][sink.Create] == 0 || byKind["kafka_acl"][sink.Create] == 0 {
		t.Fatalf("plan from empty: %v", byKind)
	}
	if n := byKind["bigquery_table"]; n != nil && n[sink.Skipped] == 0 {
		t.Fatalf("bigquery without its emulator variable: %v, want skipped", n)
	}
	// What each kind names without compiling (describe) is what it plans.
	names := map[string]bool{}
	for _, ev := range run.Target.Events {
		for _, d := range envconn.Defs() {
			if n, ok := d.(sink.Namer); ok {
				for _, name := range n.Names(ws.Project, "local", ev) {
					names[sink.Ref(d.Kind(), name)] = true
				}
			}
		}
	}
	for _, c := range p.Changes {
		if _, ok := run.Conn.Registry.Get(c.Kind).(sink.Namer); ok && !names[c.ID()] {
			t.Errorf("%s is planned but its kind does not name it", c.ID())
		}
	}
	if len(run.Target.Events) != 4 || run.Conn.Kafka == nil {
		t.Fatalf("target %d events, kafka %v", len(run.Target.Events), run.Conn.KafkaErr)
	}
}

// TestPrepareLintError: a contract error stops the plan before anything is connected, as a
// LintError holding the diagnostics for the caller to render.
func TestPrepareLintError(t *testing.T) {
	kc := kafkatest.Start(t)
	ws := repo(t, kc, 2)
	ev := ws.Events[0]
	path := filepath.Join(ws.Root(), ev.File)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, []byte("\nno_such_key: 1\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	ws, err = workspace.Open(filepath.Join(ws.Root(), config.FileName), ws.Root())
	if err != nil {
		t.Fatal(err)
	}
	_, err = envplan.Prepare(testCtx(t), ws, "local", envplan.Options{Getenv: func(string) string { return "" }})
	var le *envplan.LintError
	if !errors.As(err, &le) || len(le.Diags) == 0 {
		t.Fatalf("err = %v, want a LintError with diagnostics", err)
	}
}
