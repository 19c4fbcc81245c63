package scaffold_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/scaffold"
)

func TestEventNumbersFields(t *testing.T) {
	root := t.TempDir()
	rel, err := scaffold.Event(root, scaffold.NewEvent{Domain: "feed", Name: "video_paused", Team: "growth", Pod: "feed",
		Fields: []string{"video_id:string:required", "position_ms:int64", "tags:string:repeated", "at:timestamp", "day:date"}})
	if err != nil || rel != "contracts/feed/video_paused.yaml" {
		t.Fatalf("Event = %q, %v", rel, err)
	}
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	ev, diags := contract.Parse(rel, data)
	if ev == nil || len(diags) != 0 {
		t.Fatalf("the scaffolded file does not parse: %v", diags)
	}
	if ev.Name != "video_paused" || ev.Domain != "feed" || ev.Owner.Team != "growth" || ev.Owner.Pod != "feed" || ev.Stage != "staging" || ev.Major != 1 {
		t.Errorf("event %+v", ev)
	}
	want := []struct{ name, typ, mode string }{{"video_id", "string", "required"}, {"position_ms", "int64", ""}, {"tags", "string", "repeated"}, {"at", "timestamp", ""}, {"day", "date", ""}}
	if len(ev.Schema.Fields) != len(want) {
		t.Fatalf("fields %+v", ev.Schema.Fields)
	}
	for i, w := range want {
		f := ev.Schema.Fields[i]
		if f.Name != w.name || f.Type != w.typ || f.Mode != w.mode || f.Number != i+1 {
			t.Errorf("field %d = %+v, want %+v numbered %d", i, f, w, i+1)
		}
	}
	if _, err := scaffold.Event(root, scaffold.NewEvent{Domain: "feed", Name: "video_paused", Team: "growth"}); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("an existing file must be refused: %v", err)
	}
}

func TestEventRefusesBadInput(t *testing.T) {
	for name, ne := range map[string]scaffold.NewEvent{
		"bad type":       {Domain: "feed", Name: "a", Team: "t", Fields: []string{"x:strng"}},
		"record type":    {Domain: "feed", Name: "a", Team: "t", Fields: []string{"x:record"}},
		"bad mode":       {Domain: "feed", Name: "a", Team: "t", Fields: []string{"x:string:optional"}},
		"bad field name": {Domain: "feed", Name: "a", Team: "t", Fields: []string{"videoId:string"}},
		"twice":          {Domain: "feed", Name: "a", Team: "t", Fields: []string{"x:string", "x:int64"}},
		"no type":        {Domain: "feed", Name: "a", Team: "t", Fields: []string{"x"}},
		"dotted name":    {Domain: "feed", Name: "video.played", Team: "t"},
		"path domain":    {Domain: "../etc", Name: "a", Team: "t"},
	} {
		root := t.TempDir()
		if _, err := scaffold.Event(root, ne); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if entries, _ := os.ReadDir(filepath.Join(root, "contracts")); len(entries) > 0 {
			t.Errorf("%s: wrote %v", name, entries)
		}
	}
}

func TestInitWritesAndSkips(t *testing.T) {
	dir := t.TempDir()
	written, skipped, err := scaffold.Init(dir)
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Init: %v, skipped %v", err, skipped)
	}
	for _, want := range []string{"evctl.yaml", ".pre-commit-config.yaml", ".github/workflows/evctl.yaml", "contracts/.gitkeep"} {
		found := false
		for _, w := range written {
			found = found || w == want
		}
		if !found {
			t.Errorf("%s not written (wrote %v)", want, written)
		}
	}
	pc, _ := os.ReadFile(filepath.Join(dir, ".pre-commit-config.yaml"))
	if !strings.Contains(string(pc), "evctl-lint") {
		t.Errorf(".pre-commit-config.yaml does not use the evctl-lint hook:\n%s", pc)
	}
	if err := os.WriteFile(filepath.Join(dir, "evctl.yaml"), []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	written, skipped, err = scaffold.Init(dir)
	if err != nil || len(written) != 0 || len(skipped) < 3 {
		t.Fatalf("second Init: wrote %v, skipped %v, %v", written, skipped, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "evctl.yaml")); string(b) != "# mine\n" {
		t.Error("Init overwrote evctl.yaml")
	}
}
