package breaking

import (
	"bytes"
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// Scope returns the repository files (relative to the root, sorted) that can differ from the
// baseline, or nil when every contract may differ (evctl.yaml changed, or the baseline is not a
// git ref). Events whose files are outside the scope are unchanged by construction.
func (b *Baseline) Scope() []string {
	if b.scope == nil {
		return nil
	}
	out := make([]string, 0, len(b.scope))
	for p := range b.scope {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// LoadWorkspace opens the repository like workspace.Open, but reads only the event files in
// scope (all of them when scope is nil), so a check against a git ref costs what changed.
func LoadWorkspace(explicit, dir string, scope []string) (*workspace.Workspace, error) {
	if scope == nil {
		// YAML trees released: a position is needed only for the few events with findings.
		return workspace.OpenReleased(explicit, dir)
	}
	file, err := config.Find(explicit, dir)
	if err != nil {
		return nil, err
	}
	p, diags, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	ws := &workspace.Workspace{Project: p}
	for _, rel := range scope {
		if !strings.HasPrefix(rel, contract.Dir+"/") || strings.Count(rel, "/") != 2 ||
			!(strings.HasSuffix(rel, ".yaml") || strings.HasSuffix(rel, ".yml")) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(p.Root, filepath.FromSlash(rel)))
		if os.IsNotExist(err) {
			continue // deleted since the baseline
		}
		if err != nil {
			diags.Add(diag.Errorf(diag.Pos{File: rel}, contract.RuleRead, "%v", err))
			continue
		}
		ev, ds := contract.Parse(rel, data)
		diags.Add(ds...)
		if ev != nil {
			ws.Events = append(ws.Events, ev)
		}
	}
	sort.SliceStable(ws.Events, func(i, j int) bool { return ws.Events[i].ID() < ws.Events[j].ID() })
	// Every consumer, changed or not: a changed event is checked against all that read it.
	consumers, ds := consumer.LoadAll(p.Root)
	diags.Add(ds...)
	ws.Consumers = consumers
	ws.Diags = diags
	return ws, nil
}

// gitTree locates the contracts inside a git repository.
type gitTree struct {
	top, prefix, commit, root string
}

// full is a root-relative path as git names it (relative to the top of the work tree).
func (g *gitTree) full(rel string) string { return path.Join(g.prefix, rel) }

// rel is a git path relative to the contracts root.
func (g *gitTree) rel(p string) string {
	if g.prefix == "" {
		return p
	}
	return strings.TrimPrefix(p, g.prefix+"/")
}

// lines runs git in the top folder and splits its -z output.
func (g *gitTree) lines(ctx context.Context, args ...string) ([]string, error) {
	var out bytes.Buffer
	if _, err := git(ctx, g.top, &out, args...); err != nil {
		return nil, err
	}
	var list []string
	for _, p := range strings.Split(out.String(), "\x00") {
		if p != "" {
			list = append(list, p)
		}
	}
	return list, nil
}

// scope returns the files that differ between the commit and the work tree (tracked changes,
// staged or not, and untracked files), plus the YAML of every raw event whose .proto, or a
// .proto it imports, changed. nil means everything: evctl.yaml changed.
func (g *gitTree) scope(ctx context.Context) (map[string]bool, error) {
	paths := []string{g.full(config.FileName), g.full(contract.Dir)}
	changed, err := g.lines(ctx, append([]string{"diff", "--name-only", "--no-renames", "-z", g.commit, "--"}, paths...)...)
	if err != nil {
		return nil, err
	}
	untracked, err := g.lines(ctx, "ls-files", "--others", "--exclude-standard", "-z", "--", g.full(contract.Dir))
	if err != nil {
		return nil, err
	}
	scope := map[string]bool{}
	var protos []string
	for _, p := range append(changed, untracked...) {
		rel := g.rel(p)
		if rel == config.FileName {
			return nil, nil
		}
		scope[rel] = true
		if strings.HasSuffix(rel, ".proto") {
			protos = append(protos, strings.TrimPrefix(rel, contract.Dir+"/"))
		}
	}
	if len(protos) > 0 {
		addRawEvents(filepath.Join(g.root, contract.Dir), scope, protos)
	}
	return scope, nil
}

// addRawEvents adds to scope the YAML of raw events whose .proto is affected: changed, or
// importing an affected .proto. A raw event's YAML names its .proto, so a YAML in the proto's
// folder that mentions the file name is taken (over-taking is harmless: it is only compared).
func addRawEvents(base string, scope map[string]bool, changed []string) {
	imports := map[string][]string{} // import path → what it imports
	yamls := map[string][]string{}   // folder → YAML files
	_ = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, ".proto"):
			src, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, m := range importRE.FindAllSubmatch(src, -1) {
				imports[rel] = append(imports[rel], string(m[1]))
			}
		case strings.HasSuffix(rel, ".yaml") || strings.HasSuffix(rel, ".yml"):
			yamls[path.Dir(rel)] = append(yamls[path.Dir(rel)], rel)
		}
		return nil
	})
	affected := map[string]bool{}
	for _, c := range changed {
		affected[c] = true
	}
	for grew := true; grew; {
		grew = false
		for importer, imps := range imports {
			if affected[importer] {
				continue
			}
			for _, imp := range imps {
				if affected[imp] {
					affected[importer], grew = true, true
					break
				}
			}
		}
	}
	for proto := range affected {
		name := []byte(path.Base(proto))
		for _, y := range yamls[path.Dir(proto)] {
			if src, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(y))); err == nil && bytes.Contains(src, name) {
				scope[contract.Dir+"/"+y] = true
			}
		}
	}
}
