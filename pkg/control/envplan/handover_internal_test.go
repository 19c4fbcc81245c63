package envplan

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// TestHandOverEqualsCompile: on a fresh repository, lint hands every event over and the planner
// compiles none itself (apply from empty compiles once), and what it plans from lint's
// compilation is what compiling the files again gives: the same cache entries, the same wanted
// resources of every compiled kind (descriptor sets byte for byte, columns with their
// descriptions), in the same order. No Kafka is needed: the sinks are only asked what they want.
func TestHandOverEqualsCompile(t *testing.T) {
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 40, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	getenv := func(string) string { return "" }
	pr, conn := early(t.Context(), "", dir, "local", Options{Getenv: getenv})
	if pr == nil {
		t.Fatal("early: no preparer")
	}
	defer conn.Close()
	defer pr.waitState()
	if len(pr.dirty) != 40 {
		t.Fatalf("%d dirty files on a fresh repository, want 40", len(pr.dirty))
	}
	rep, err := lint.CheckIncremental(t.Context(), "", dir, lint.IncrOptions{SkipGenFresh: true, Compiled: pr.take})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Diags.HasErrors() || rep.Fallback != "" {
		t.Fatalf("lint: %v (fallback %q)", rep.Diags, rep.Fallback)
	}
	if len(pr.handed) != len(pr.dirty) {
		t.Fatalf("lint handed over %d of %d files", len(pr.handed), len(pr.dirty))
	}
	entries, full, err := pr.compileFiles(t.Context(), pr.dirty, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pr.dirty {
		got, want := pr.handed[f], entries[f]
		if got.ID != want.ID || got.Hosted != want.Hosted || string(got.Stub) != string(want.Stub) || !sameJSON(t, got.Desired, want.Desired) {
			t.Fatalf("%s: handed-over entry differs from the compiled one:\n%+v\n%+v", f, got, want)
		}
	}
	if len(pr.handedFull) != len(full) {
		t.Fatalf("%d events planned from lint's compilation, %d compiled", len(pr.handedFull), len(full))
	}
	kinds := map[string]int{}
	for id, want := range full {
		got := pr.handedFull[id]
		if len(got) != len(want) {
			t.Fatalf("%s: %d resources, want %d", id, len(got), len(want))
		}
		for i := range want {
			kinds[want[i].Kind]++
			if got[i].Kind != want[i].Kind || got[i].Name != want[i].Name || got[i].Hash != want[i].Hash {
				t.Fatalf("%s: resource %d is %s/%s (hash %s), want %s/%s (hash %s)", id, i, got[i].Kind, got[i].Name, got[i].Hash, want[i].Kind, want[i].Name, want[i].Hash)
			}
			if w, ok := want[i].Spec.(descriptor.Spec); ok {
				g := got[i].Spec.(descriptor.Spec)
				gb, err1 := g.Bytes()
				wb, err2 := w.Bytes()
				if err1 != nil || err2 != nil || string(gb) != string(wb) || g.Entry != w.Entry {
					t.Fatalf("%s: descriptor set differs (%v, %v)", id, err1, err2)
				}
			} else if !sameJSON(t, got[i].Spec, want[i].Spec) {
				t.Fatalf("%s: %s spec differs", id, want[i].Kind)
			}
		}
	}
	// The synthetic repository's events have tables: the column kinds were compared too.
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	if kinds[descriptor.Kind] == 0 || len(kinds) < 2 {
		t.Fatalf("compared kinds %v: want the descriptor and a column kind", names)
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
