package envplan_test

import (
	"testing"

	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
)

// BenchmarkPlanNoChange plans an applied 300-event repository with nothing changed, against
// kfake and file:// stores: the whole pipeline (Prepare: every contract compiled, every resource
// read), the cached one reading everything, and the cached one reading what changed
// (scripts/bench-plan.sh measures the commands at 1,200 and 10,000 events).
func BenchmarkPlanNoChange(b *testing.B) {
	kc := kafkatest.Start(b)
	dir, getenv := cachedRepo(b, kc, 300, 3)
	run, err := envplan.PrepareCached(b.Context(), "", dir, "local", envplan.Options{Getenv: getenv, Refresh: plan.RefreshFull})
	if err != nil {
		b.Fatal(err)
	}
	applyRun(b, run)
	run.Close()
	b.Run("whole-pipeline", func(b *testing.B) {
		for b.Loop() {
			ws, err := workspace.Open("", dir)
			if err != nil {
				b.Fatal(err)
			}
			r, err := envplan.Prepare(b.Context(), ws, "local", envplan.Options{Getenv: getenv})
			if err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
	for _, refresh := range []plan.Refresh{plan.RefreshFull, plan.RefreshFast} {
		b.Run("cached-refresh-"+string(refresh), func(b *testing.B) {
			for b.Loop() {
				r, err := envplan.PrepareCached(b.Context(), "", dir, "local", envplan.Options{Getenv: getenv, Refresh: refresh})
				if err != nil {
					b.Fatal(err)
				}
				if r.Plan.HasChanges() {
					b.Fatalf("changes after apply: %+v", r.Plan.Summary)
				}
				r.Close()
			}
		})
	}
}
