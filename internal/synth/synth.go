package synth

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Stats describes a generated repository.
type Stats struct {
	Events    int // contracts written
	Raw       int // of which raw .proto contracts
	Fields    int // fields written, nested ones included (platform fields not counted)
	GenFiles  int // files under gen/proto (and buf-src)
	GenBytes  int // their total size
	YAMLBytes int // contract YAML and raw .proto bytes
}

// WriteContracts writes evctl.yaml and contracts/ into dir (created if needed): no gen/proto.
func WriteContracts(dir string, o Options) (*Stats, error) {
	o = o.withDefaults()
	g := &gen{r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	st := &Stats{}
	if err := writeFile(filepath.Join(dir, "evctl.yaml"), []byte(projectYAML)); err != nil {
		return nil, err
	}
	for i := 0; i < o.N; i++ {
		ev := g.event(i, o)
		base := filepath.Join(dir, "contracts", ev.dom.name, ev.name)
		y := yamlEvent(ev)
		if err := writeFile(base+".yaml", []byte(y)); err != nil {
			return nil, err
		}
		st.YAMLBytes += len(y)
		if ev.raw {
			p := protoEvent(ev)
			if err := writeFile(base+".proto", []byte(p)); err != nil {
				return nil, err
			}
			st.YAMLBytes += len(p)
			st.Raw++
		}
		st.Events++
		st.Fields += countFields(ev.fields)
	}
	return st, nil
}

// Generate writes a complete synthetic repository into dir: evctl.yaml, contracts/, the fresh
// gen/proto that `evctl generate` would write, and buf-src/ (the same protos plus a buf.yaml), so
// `evctl lint` is clean and `buf build buf-src` compiles what `evctl build` compiles. Any lint
// finding in the generated repository is a generator bug and is returned as an error.
func Generate(ctx context.Context, dir string, o Options) (*Stats, error) {
	st, err := WriteContracts(dir, o)
	if err != nil {
		return nil, err
	}
	ws, err := workspace.Open(filepath.Join(dir, "evctl.yaml"), dir)
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) > 0 {
		n := min(len(rep.Diags), 5)
		for _, d := range rep.Diags[:n] {
			fmt.Fprintln(os.Stderr, d.String())
		}
		return nil, fmt.Errorf("synth: generated repository has %d findings (a generator bug)", len(rep.Diags))
	}
	files := lint.GenFiles(rep.Compiled, rep.Outputs)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, root := range []string{filepath.Join(dir, filepath.FromSlash(workspace.GenDir)), filepath.Join(dir, "buf-src")} {
			if err := writeFile(filepath.Join(root, filepath.FromSlash(p)), files[p]); err != nil {
				return nil, err
			}
		}
		st.GenFiles++
		st.GenBytes += len(files[p])
	}
	if err := writeFile(filepath.Join(dir, "buf-src", "buf.yaml"), []byte(bufYAML)); err != nil {
		return nil, err
	}
	// gen/proto leaves protovalidate to its module (buf.build/bufbuild/protovalidate), which buf
	// would fetch from the network; evctl links a precompiled descriptor of it instead. Offline,
	// buf gets a stub declaring just the rule evctl uses, so neither side parses validate.proto.
	if _, ok := files[validateFile]; !ok && usesValidate(files) {
		if err := writeFile(filepath.Join(dir, "buf-src", filepath.FromSlash(validateFile)), []byte(validateStub)); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func usesValidate(files map[string][]byte) bool {
	for _, src := range files {
		if bytes.Contains(src, []byte(`import "`+validateFile+`"`)) {
			return true
		}
	}
	return false
}

func countFields(fs []field) int {
	n := len(fs)
	for _, f := range fs {
		n += countFields(f.fields)
	}
	return n
}

func writeFile(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}
