package breaking

import (
	"context"
	"testing"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// FuzzDescriptorSet: a baseline set of any bytes is an error or a baseline whose events all
// load or say why not, never a panic; a set that scans must name each file once.
func FuzzDescriptorSet(f *testing.F) {
	dir := f.TempDir()
	if _, err := synth.Generate(context.Background(), dir, synth.Options{N: 3, Seed: 9}); err != nil {
		f.Fatal(err)
	}
	ws, err := workspace.Open("", dir)
	if err != nil {
		f.Fatal(err)
	}
	rep := lint.Check(context.Background(), ws, lint.Options{SkipGenFresh: true})
	set, err := compile.Marshal(compile.FileSet(rep.Compiled, nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(set)
	f.Add(set[:len(set)/2])
	f.Add([]byte{})
	f.Add([]byte("not a descriptor set"))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := scanSet(data)
		if err == nil {
			seen := map[string]bool{}
			for _, p := range rs.order {
				if seen[p] {
					t.Fatalf("file %q twice", p)
				}
				seen[p] = true
			}
		}
		b, err := FromDescriptorSet("fuzz", data)
		if err != nil {
			return
		}
		b.side.load(b.Events())
		for id, e := range b.side.events {
			if (e.file == nil) == (e.bad == nil) {
				t.Fatalf("%s: loaded %v, reason %v", id, e.file != nil, e.bad)
			}
		}
	})
}
