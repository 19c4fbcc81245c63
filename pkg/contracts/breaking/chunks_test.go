package breaking

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestFileBaselineChunks: against a descriptor set of more prod events than one chunk
// (checkChunk), each side compiled or loaded a chunk at a time, a field removed from the first
// and the last prod event is found in each of them and nowhere else, a field added to one in
// between is checked and passes, and every other prod event is unchanged: chunks change what
// memory holds, not the verdict.
func TestFileBaselineChunks(t *testing.T) {
	bin := bufBin(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := synth.Generate(ctx, dir, synth.Options{N: 700, Seed: 8}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "base.binpb")
	if err := os.WriteFile(path, buildSet(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	// Prod events of the form path whose field number 2 is on one line, in ID order.
	yamls, _ := filepath.Glob(filepath.Join(dir, "contracts", "*", "*.yaml"))
	sort.Strings(yamls)
	field2 := regexp.MustCompile(`(?m)^    - \{name: \w+, type: (string|int64|bool|double|float), number: 2[,}].*\n`)
	var prod []string // of the form path with a one-line field 2
	all := 0          // prod events: the candidates, chunked in ID order
	for _, y := range yamls {
		b, _ := os.ReadFile(y)
		if strings.Contains(string(b), "\nstage: prod\n") {
			all++
			if field2.Match(b) {
				prod = append(prod, y)
			}
		}
	}
	if all < checkChunk+50 || len(prod) < 3 {
		t.Fatalf("%d prod events (%d to edit), want more than one chunk (%d)", all, len(prod), checkChunk)
	}
	first, mid, last := prod[0], prod[len(prod)/2], prod[len(prod)-1]
	for _, y := range []string{first, last} {
		b, _ := os.ReadFile(y)
		if err := os.WriteFile(y, field2.ReplaceAll(b, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(mid)
	if err := os.WriteFile(mid, []byte(strings.Replace(string(b), "\n  fields:\n", "\n  fields:\n    - {name: chunk_added, type: string, number: 900}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	fileBase, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The same set published as an environment's (evctl.yaml's local: file://.evctl/descriptors),
	// every event's index entry naming it: read when compared.
	set, _ := os.ReadFile(path)
	sum := compile.SHA256(set)
	entries := map[string]descstore.Entry{}
	for id, e := range fileBase.side.events {
		domain, name, _ := strings.Cut(id, "/")
		entries[id] = descstore.Entry{Message: e.msgName, Topic: "local." + domain + "." + name + ".v1", SHA256: sum, Stage: e.stage}
	}
	idx, _ := json.Marshal(descstore.Index{Events: entries})
	store := filepath.Join(dir, ".evctl", "descriptors")
	_ = os.MkdirAll(filepath.Join(store, "sets"), 0o755)
	_ = os.WriteFile(filepath.Join(store, "sets", sum+".binpb"), set, 0o644)
	_ = os.WriteFile(filepath.Join(store, "index.json"), idx, 0o644)
	ws := openWS(t, dir)
	envBase, err := FromEnv(ctx, ws.Project, "local")
	if err != nil {
		t.Fatal(err)
	}
	defer envBase.Close()
	for _, base := range []*Baseline{fileBase, envBase} {
		t.Run(base.Name, func(t *testing.T) { checkChunked(t, dir, base, bin, all, []string{first, mid, last}) })
	}
}

func checkChunked(t *testing.T, dir string, base *Baseline, bin string, all int, edited []string) {
	first, mid, last := edited[0], edited[1], edited[2]
	id := func(y string) string {
		return filepath.Base(filepath.Dir(y)) + "/" + strings.TrimSuffix(filepath.Base(y), ".yaml")
	}
	rep, err := Check(context.Background(), Current{Workspace: openWS(t, dir)}, base, Options{Buf: bin, Today: testToday})
	if err != nil {
		t.Fatal(err)
	}
	broken := map[string]bool{}
	for _, f := range rep.Findings() {
		broken[f.Event] = true
	}
	if len(broken) != 2 || !broken[id(first)] || !broken[id(last)] {
		t.Fatalf("events with findings %v, want %s and %s\n%s", broken, id(first), id(last), dump(rep))
	}
	checked, unchanged := 0, 0
	for _, e := range rep.Events {
		switch e.Status {
		case StatusChecked:
			checked++
		case StatusUnchanged:
			unchanged++
		}
		if e.Event == id(mid) && (e.Status != StatusChecked || len(e.Findings) > 0) {
			t.Fatalf("%s: status %s, findings %v", e.Event, e.Status, e.Findings)
		}
	}
	if checked != 3 || unchanged != all-3 {
		t.Fatalf("%d events checked, %d unchanged: want 3 and %d\n", checked, unchanged, all-3)
	}
}
