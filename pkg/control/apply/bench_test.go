package apply_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// benchEvents is the size of the synthetic repository (EVCTL_BENCH_EVENTS, default 200).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("EVCTL_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200
}

// benchRepo is a synthetic repository, compiled once.
type benchRepo struct {
	ws     *workspace.Workspace
	target *sink.Target
	want   map[string][]sink.Desired
}

// desire builds the wanted resources without connecting (outside what is measured, as before
// the kinds built them): every kind's Def, which needs no client.
func desire(b *testing.B, ws *workspace.Workspace, rep *lint.Report) (*sink.Target, map[string][]sink.Desired) {
	t, err := sink.NewTarget(ws.Project, "local", ws.Events, rep.Compiled)
	must(b, err)
	var off []sink.Sink
	for _, d := range envconn.Defs() {
		off = append(off, sink.Disabled(d, "desire only"))
	}
	want, err := plan.Desire(sink.NewRegistry(off...), t)
	must(b, err)
	return t, want
}

func newBenchRepo(b *testing.B) *benchRepo {
	b.Helper()
	dir := b.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: benchEvents(), Seed: 1}); err != nil {
		b.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, config.FileName), dir)
	must(b, err)
	// Measured: the descriptor store and Kafka (what this engine batches). BigQuery and Delta
	// tables plan as skipped (not configured); their sinks have benchmarks of their own.
	env := ws.Project.Environments["local"]
	env.BigQuery, env.Delta = config.BigQueryEnv{}, config.Location{}
	ws.Project.Environments["local"] = env
	rep := lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) > 0 {
		b.Fatalf("synthetic repository: %v", rep.Diags[0])
	}
	t, want := desire(b, ws, rep)
	return &benchRepo{ws: ws, target: t, want: want}
}

// point aims the local environment at kc and fresh file:// stores in dir.
func (br *benchRepo) point(kc *kafkatest.Cluster, dir string) {
	env := br.ws.Project.Environments["local"]
	env.Kafka.Brokers = kc.Addrs
	env.State.URL = "file://" + filepath.Join(dir, "state")
	env.Descriptors.URL = "file://" + filepath.Join(dir, "descriptors")
	br.ws.Project.Environments["local"] = env
}

// planAndApply observes, diffs and (unless parallelism < 0) applies, as `evctl apply` does
// after compiling.
func (br *benchRepo) planAndApply(b *testing.B, kc *kafkatest.Cluster, parallelism int) *plan.Plan {
	ctx := context.Background()
	getenv := func(k string) string {
		return map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}[k]
	}
	conn, err := envconn.Open(ctx, br.ws.Project, "local", envconn.Options{Getenv: getenv})
	must(b, err)
	defer conn.Close()
	st, _, err := state.Read(ctx, conn.State, "local")
	must(b, err)
	p, err := plan.Build(ctx, conn.Registry, br.want, plan.Options{Env: "local", State: st, Target: br.target})
	must(b, err)
	if parallelism < 0 {
		return p
	}
	rep, err := apply.Run(ctx, conn.Registry, conn.State, p, apply.Options{Env: "local", Who: "bench", Parallelism: parallelism})
	must(b, err)
	for _, x := range rep.Results {
		// Only what this benchmark measures must succeed: kinds with no server here are skipped.
		if x.Status != state.StatusOK && (x.Kind == "descriptor" || strings.HasPrefix(x.Kind, "kafka_")) {
			b.Fatalf("apply: %v", notOK(rep))
		}
	}
	return p
}

// BenchmarkApply measures, on a synthetic repository against kfake (SASL and ACLs on) and
// file:// stores: an apply from empty batched per kind, the same one resource at a time
// (Parallelism 1, the baseline), and a plan with nothing to change (observe and diff; and with
// the compile `evctl plan` also does, beside the compile alone).
//
//	go test ./pkg/control/apply -run '^$' -bench BenchmarkApply -benchtime 3x
func BenchmarkApply(b *testing.B) {
	br := newBenchRepo(b)
	for _, mode := range []struct {
		name        string
		parallelism int
	}{{"from-empty-batched", 0}, {"from-empty-parallelism-1", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				kc := kafkatest.Start(b)
				br.point(kc, b.TempDir())
				b.StartTimer()
				br.planAndApply(b, kc, mode.parallelism)
				b.StopTimer()
				kc.Close()
				b.StartTimer()
			}
		})
	}

	kc := kafkatest.Start(b)
	br.point(kc, b.TempDir())
	br.planAndApply(b, kc, 0)
	b.Run("no-change-plan", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if p := br.planAndApply(b, kc, -1); p.HasChanges() {
				b.Fatalf("plan after apply has changes: %+v", p.Summary)
			}
		}
	})
	b.Run("no-change-plan-with-compile", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rep := lint.Check(context.Background(), br.ws, lint.Options{SkipGenFresh: true})
			br.target, br.want = desire(b, br.ws, rep)
			if p := br.planAndApply(b, kc, -1); p.HasChanges() {
				b.Fatalf("plan after apply has changes: %+v", p.Summary)
			}
		}
	})
	b.Run("compile-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			lint.Check(context.Background(), br.ws, lint.Options{SkipGenFresh: true})
		}
	})
}
