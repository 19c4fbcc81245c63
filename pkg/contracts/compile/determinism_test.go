package compile_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// repoRoot is the module root, whose evctl.yaml and contracts/ are the sample catalog.
const repoRoot = "../../.."

// copyRepo copies evctl.yaml and contracts/ of the sample catalog into a new folder, creating the
// files in the given order (reverse when reverse is set), so directory order differs between copies.
func copyRepo(t *testing.T, reverse bool) string {
	t.Helper()
	var files []string
	files = append(files, "evctl.yaml")
	err := filepath.WalkDir(filepath.Join(repoRoot, "contracts"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if reverse {
		sort.Sort(sort.Reverse(sort.StringSlice(files)))
	}
	dst := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// build compiles every event of the repository at dir, with the outputs handed to the compiler
// in the given order, and returns the marshalled set.
func build(t *testing.T, dir string, reverse bool) ([]byte, *compile.Result) {
	t.Helper()
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Diags.HasErrors() {
		t.Fatalf("load: %v", ws.Diags.Err())
	}
	var outs []*protogen.Output
	for _, ev := range ws.Events {
		o, ds := ws.Effective(ev)
		if ds.HasErrors() {
			t.Fatalf("%s: %v", ev.ID(), ds.Err())
		}
		outs = append(outs, o)
	}
	if reverse {
		for i, j := 0, len(outs)-1; i < j; i, j = i+1, j-1 {
			outs[i], outs[j] = outs[j], outs[i]
		}
	}
	res, ds := compile.Compile(context.Background(), ws.Root(), outs)
	if len(ds) > 0 {
		t.Fatalf("compile: %v", ds)
	}
	b, err := compile.Marshal(compile.FileSet(res, nil))
	if err != nil {
		t.Fatal(err)
	}
	return b, res
}

func TestBuildDeterministic(t *testing.T) {
	a, res := build(t, copyRepo(t, false), false)
	b, _ := build(t, copyRepo(t, true), true)
	if compile.SHA256(a) != compile.SHA256(b) {
		t.Fatalf("the same repository built twice gives different sets: %s vs %s", compile.SHA256(a), compile.SHA256(b))
	}
	// Again in the same process: map iteration order must not leak into the bytes either.
	for i := 0; i < 3; i++ {
		c, _ := build(t, copyRepo(t, i%2 == 0), i%2 == 1)
		if compile.SHA256(c) != compile.SHA256(a) {
			t.Fatalf("build %d differs", i)
		}
	}

	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(a, set); err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, f := range set.File {
		if _, dup := pos[f.GetName()]; dup {
			t.Errorf("%s is in the set twice", f.GetName())
		}
		pos[f.GetName()] = i
	}
	// Every event's file is there, and every file comes after each of its imports.
	if len(res.Files) < 12 {
		t.Fatalf("the sample catalog compiled only %d events", len(res.Files))
	}
	for id, f := range res.Files {
		if _, ok := pos[f.Path()]; !ok {
			t.Errorf("event %s: %s is not in the set", id, f.Path())
		}
	}
	for i, f := range set.File {
		for _, dep := range f.GetDependency() {
			j, ok := pos[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which is not in the set", f.GetName(), dep)
			case j >= i:
				t.Errorf("%s (at %d) comes before its import %s (at %d)", f.GetName(), i, dep, j)
			}
		}
	}
	for _, want := range []string{"evctl/options.proto", "google/protobuf/timestamp.proto", "google/protobuf/descriptor.proto", "google/type/date.proto", "common/money.proto"} {
		if _, ok := pos[want]; !ok {
			t.Errorf("import %s is missing from the set", want)
		}
	}
}

func TestFileSetOfSomeEvents(t *testing.T) {
	_, res := build(t, copyRepo(t, false), false)
	set := compile.FileSet(res, []string{"payments/purchase_completed"})
	names := map[string]bool{}
	for _, f := range set.File {
		names[f.GetName()] = true
	}
	if !names["payments/purchase_completed.proto"] || !names["common/money.proto"] || names["feed/video_played.proto"] {
		t.Errorf("set of one event holds %v", names)
	}
}
