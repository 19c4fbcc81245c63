package gateway

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/data/convert"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// BenchmarkRegistryLoad publishes a synthetic repository's events to a descriptor store on disk
// (one set per event, each with its own copy of the common imports, as evctl apply publishes
// them) and loads the gateway's registry from it, reporting the heap the loaded registry holds:
// at start (lazy: index.json only) and with every event built (preload).
func BenchmarkRegistryLoad(b *testing.B) {
	const events = 400
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: events, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		b.Fatal(err)
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if rep.Diags.HasErrors() {
		b.Fatalf("synthetic repository has errors: %v", rep.Diags[0])
	}
	store, err := blob.Open(ctx, "file://"+b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sets := compile.NewSetCache(rep.Compiled)
	entries, blobs := map[string]descstore.Entry{}, map[string][]byte{}
	for id, md := range rep.Compiled.Messages {
		set, sha, err := sets.Marshal([]string{id})
		if err != nil {
			b.Fatal(err)
		}
		blobs[sha] = set
		entries[id] = descstore.Entry{Message: string(md.FullName()), Topic: "bench." + strings.ReplaceAll(id, "/", "."), SHA256: sha, Stage: "prod"}
	}
	if err := descstore.Publish(ctx, store, entries, blobs); err != nil {
		b.Fatal(err)
	}
	rep, sets = nil, nil
	heap := func() float64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / (1 << 20)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// lazy: what start-up costs (index.json only); preload: every event built, as with
	// Config.Preload or once every event has had a request.
	for _, preload := range []bool{false, true} {
		name := "lazy"
		if preload {
			name = "preload"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				base := heap()
				r := newRegistry(store, convert.Options{}, nil, log, newMetrics(), 0)
				r.preload = preload
				if err := r.Reload(ctx); err != nil {
					b.Fatal(err)
				}
				s := r.Current()
				if n := len(s.Events); n != events {
					b.Fatalf("%d events loaded", n)
				}
				if want := map[bool]int{false: 0, true: events}[preload]; s.loaded() != want {
					b.Fatalf("%d events built, want %d", s.loaded(), want)
				}
				b.ReportMetric(heap()-base, "MB-held")
				runtime.KeepAlive(r)
			}
			b.ReportMetric(events, "events")
		})
	}
}
