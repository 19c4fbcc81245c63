package lint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// benchEvents is the size of the synthetic repository; scripts/bench.sh measures 1,200 end to end.
const benchEvents = 200

func benchRepo(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{N: benchEvents, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkCheck is `evctl lint` without the CLI: load the repository, run every rule, compile,
// convert the examples and compare gen/proto. sourceinfo=on is what build and export run;
// sourceinfo=off is what a check alone needs.
func BenchmarkCheck(b *testing.B) {
	dir := benchRepo(b)
	ctx := context.Background()
	for _, skip := range []bool{false, true} {
		name := "sourceinfo=on"
		if skip {
			name = "sourceinfo=off"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
				if err != nil {
					b.Fatal(err)
				}
				rep := lint.Check(ctx, ws, lint.Options{SkipSourceInfo: skip})
				if len(rep.Diags) > 0 {
					b.Fatalf("synthetic repository has findings: %v", rep.Diags[0])
				}
			}
			b.ReportMetric(float64(benchEvents), "events/op")
		})
	}
}

// BenchmarkOpen is the loading part of Check: evctl.yaml and every contract YAML.
func BenchmarkOpen(b *testing.B) {
	dir := benchRepo(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIncremental is `evctl lint` through the incremental cache: cold (an empty cache, as on
// a fresh checkout), after one changed event, and with nothing changed.
func BenchmarkIncremental(b *testing.B) {
	// EVCTL_BENCH_REPO names a repository to use instead (scripts/synth -n 10000), for profiles.
	dir := os.Getenv("EVCTL_BENCH_REPO")
	if dir == "" {
		dir = benchRepo(b)
	}
	ctx := context.Background()
	opts := lint.IncrOptions{Today: "2026-11-23"}
	run := func(b *testing.B) {
		rep, err := lint.CheckIncremental(ctx, "", dir, opts)
		if err != nil || rep.Fallback != "" {
			b.Fatalf("err %v, fallback %q", err, rep.Fallback)
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			_ = os.RemoveAll(filepath.Join(dir, ".evctl"))
			run(b)
		}
	})
	files, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	b.Run("one-changed", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			src, _ := os.ReadFile(files[0])
			_ = os.WriteFile(files[0], append(src, fmt.Sprintf("# edit %d\n", i)...), 0o644)
			run(b)
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			run(b)
		}
	})
}
