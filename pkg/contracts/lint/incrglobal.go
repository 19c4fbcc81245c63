package lint

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// globalRules runs the rules that compare events with each other over the workspace of loaded
// events and stand-ins. A finding in a stand-in's file needs the real event for its position,
// so that event is loaded and the rules run again (what they find depends only on the names,
// which the stand-in has).
func (run *incrRun) globalRules(shadow *workspace.Workspace, kept map[string]protoreflect.MessageDescriptor) (diag.List, error) {
	var out diag.List
	for round := 0; ; round++ {
		ds := append(checkUnique(shadow), checkCounterNames(shadow)...)
		stale := map[string]bool{}
		for _, d := range ds {
			stale[d.File] = true
		}
		replaced := 0
		for i, ev := range shadow.Events {
			if ev.Doc != nil || !stale[ev.File] {
				continue // loaded (a stand-in has no Doc), or nothing to report there
			}
			real, _, _ := contract.LoadFile(run.root, ev.File)
			if real == nil || real.Doc == nil {
				return nil, fallback("%s cannot be loaded again", ev.File)
			}
			shadow.Events[i] = real
			replaced++
		}
		if replaced == 0 {
			out = ds
			break
		}
		if round > 0 {
			return nil, fallback("the repository changed while it was checked")
		}
	}
	out.Add(checkConsumers(shadow)...)
	out.Add(checkConsumersCompiled(shadow, &compile.Result{Messages: kept})...)
	return out, nil
}

// clashes stands aside when a name is declared by two files, or is also a package: compiled
// apart, the files cannot report it as a compilation of the whole repository does.
func (run *incrRun) clashes(entries []*incrEntry) error {
	owner := map[string]string{}
	pkgs := map[string]bool{}
	add := func(path, pkg string, names []string) error {
		for p := pkg; p != ""; {
			pkgs[p] = true
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
		}
		for _, n := range names {
			if o, ok := owner[n]; ok && o != path {
				return fallback("%s is declared in %s and %s", n, o, path)
			}
			owner[n] = path
		}
		return nil
	}
	imports := map[string]bool{}
	for _, e := range entries {
		if !e.Compiled {
			continue
		}
		if err := add(e.Path, e.Package, e.Symbols); err != nil {
			return err
		}
		for _, p := range e.Imports {
			if imports[p] {
				continue
			}
			imports[p] = true
			s, ok := run.idx.ImportSyms[p]
			if !ok {
				return fallback("no names recorded for %s", p)
			}
			if err := add(p, s.Package, s.Names); err != nil {
				return err
			}
		}
	}
	for n, path := range owner {
		if pkgs[n] {
			return fallback("%s of %s is also a package", n, path)
		}
	}
	return nil
}

// declared lists the names a file declares in its package's scope, and whether it declares
// extensions anywhere.
func declared(fd protoreflect.FileDescriptor) (names []string, ext bool) {
	ext = fd.Extensions().Len() > 0
	for i := 0; i < fd.Extensions().Len(); i++ {
		names = append(names, string(fd.Extensions().Get(i).FullName()))
	}
	msgs := fd.Messages()
	for i := 0; i < msgs.Len(); i++ {
		names = append(names, string(msgs.Get(i).FullName()))
		ext = ext || nestedExt(msgs.Get(i))
	}
	enums := fd.Enums()
	for i := 0; i < enums.Len(); i++ {
		e := enums.Get(i)
		names = append(names, string(e.FullName()))
		for j := 0; j < e.Values().Len(); j++ {
			names = append(names, string(e.Values().Get(j).FullName()))
		}
	}
	svcs := fd.Services()
	for i := 0; i < svcs.Len(); i++ {
		names = append(names, string(svcs.Get(i).FullName()))
	}
	return names, ext
}

func nestedExt(m protoreflect.MessageDescriptor) bool {
	if m.Extensions().Len() > 0 {
		return true
	}
	for i := 0; i < m.Messages().Len(); i++ {
		if nestedExt(m.Messages().Get(i)) {
			return true
		}
	}
	return false
}

// genFresh is checkGenFresh over the entries: gen/proto is compared by content hash, and read
// only where it differs.
func (run *incrRun) genFresh(entries []*incrEntry) (diag.List, error) {
	stats, read, ok := run.genScan.wait()
	if !ok {
		return nil, fallback("a symlink, special or unreadable file under %s", workspace.GenDir)
	}
	run.statsRead += read
	run.genScanned = true
	scan := make(map[string]string, len(stats))
	for p, st := range stats {
		scan[p] = st.Sum
		run.stats[p] = st
	}
	want := map[string]incrGen{}
	for _, e := range entries {
		if !e.Compiled {
			continue
		}
		for _, g := range e.Gen {
			if _, ok := want[g.Path]; !ok {
				want[g.Path] = g
			}
		}
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out diag.List
	base := filepath.Join(run.root, filepath.FromSlash(workspace.GenDir))
	for _, p := range paths {
		gp := workspace.GenDir + "/" + p
		g := want[p]
		have, ok := scan[gp]
		switch {
		case !ok:
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: 1, Col: 1}, RuleGenStale, "%s is missing; run `evctl generate` and commit gen/", gp))
		case have != g.Sum:
			got, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(p)))
			if err != nil {
				return nil, fallback("%s cannot be read", gp)
			}
			w, err := run.genContent(g)
			if err != nil {
				return nil, err
			}
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: firstDiff(got, w), Col: 1}, RuleGenStale, "%s is out of date with its contract; run `evctl generate` and commit gen/", gp))
		}
	}
	for gp := range scan {
		p := strings.TrimPrefix(gp, workspace.GenDir+"/")
		if !strings.HasSuffix(p, ".proto") {
			continue
		}
		if _, ok := want[p]; !ok {
			out.Add(diag.Errorf(diag.Pos{File: gp, Line: 1, Col: 1}, RuleGenStale, "%s has no contract any more; run `evctl generate` to remove it", gp))
		}
	}
	return out, nil
}

// genScan is the scan of gen/ that genFresh compares, started when the run starts: it depends
// only on the index, and a fresh checkout's gen/ is read whole, so it runs beside the loading
// and compiling instead of after them, on a core they leave idle at times.
type genScan struct {
	done  chan struct{}
	stats map[string]workspace.FileStat
	read  int
	ok    bool
}

// scanGen starts the scan of gen/ with what the index knows of it.
func (run *incrRun) scanGen() *genScan {
	g := &genScan{done: make(chan struct{})}
	known, taken := run.idx.Stats, run.idx.StatsTaken
	go func() {
		defer close(g.done)
		g.stats, g.read, g.ok = workspace.ScanTreeKnown(run.root, workspace.GenDir, known, taken)
	}()
	return g
}

// wait returns the scan's result once it is done.
func (g *genScan) wait() (map[string]workspace.FileStat, int, bool) {
	<-g.done
	return g.stats, g.read, g.ok
}

// genContent is the content generate writes for g.
func (run *incrRun) genContent(g incrGen) ([]byte, error) {
	if g.Blob != "" {
		b, err := run.store.get(g.Blob)
		if err != nil {
			return nil, fallback("%v", err)
		}
		return b, nil
	}
	if src, ok := evoptions.Source(g.Path); ok {
		return src, nil
	}
	b, err := contract.ReadInside(run.root, filepath.Join(run.root, contract.Dir, filepath.FromSlash(g.Path)))
	if err != nil || workspace.ContentSum(b) != g.Sum {
		return nil, fallback("%s changed while it was checked", g.Path)
	}
	return b, nil
}

// save writes the index with the entries of this run.
func (run *incrRun) save(files []string, fresh map[string]*incrEntry) {
	changed := len(fresh) > 0
	entries := make(map[string]*incrEntry, len(files))
	for _, f := range files {
		if e, ok := fresh[f]; ok {
			entries[f] = e
		} else if e, ok := run.idx.Entries[f]; ok {
			entries[f] = e
		}
	}
	if !run.genScanned {
		// gen/ was not looked at (build, or a run with errors): what is known of it stays.
		for p, st := range run.idx.Stats {
			if strings.HasPrefix(p, workspace.GenDir+"/") {
				run.stats[p] = st
			}
		}
	}
	if len(entries) != len(run.idx.Entries) || run.statsRead > 0 || len(run.stats) != len(run.idx.Stats) {
		changed = true
	}
	if !changed {
		return
	}
	run.idx.Stats, run.idx.StatsTaken = run.stats, run.taken
	used := map[string]bool{}
	for _, e := range entries {
		for _, p := range e.Imports {
			used[p] = true
		}
	}
	for p := range run.idx.Imports {
		if !used[p] {
			delete(run.idx.Imports, p)
			delete(run.idx.ImportSyms, p)
		}
	}
	run.idx.Entries = entries
	run.store.save(run.idx)
}

// set assembles the descriptor set from the entries' blobs: the events' files in path order,
// each after its imports, each once, as compile.FileSet orders them. The set's size is known
// from the index, so the blobs are read straight into one buffer and checked against their
// names on every core (at 10,000 events the set is about 90 MB).
func (s *incrStore) set(entries []*incrEntry) ([]byte, int, error) {
	defer s.close()
	sorted := append([]*incrEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	seen := map[string]bool{}
	var parts []setPart
	size := 0
	s.mu.Lock()
	for _, e := range sorted {
		for _, c := range e.Closure {
			if seen[c.Path] {
				continue
			}
			seen[c.Path] = true
			l, f, err := s.locate(c.Blob)
			if err != nil {
				s.mu.Unlock()
				return nil, 0, err
			}
			head := protowire.SizeTag(1) + protowire.SizeVarint(uint64(l.Len))
			parts = append(parts, setPart{name: c.Blob, f: f, off: l.Off, start: size, at: size + head, n: int(l.Len)})
			size += head + int(l.Len)
		}
	}
	s.mu.Unlock()
	out := make([]byte, size)
	for _, p := range parts { // each blob's tag and length, in place
		protowire.AppendVarint(protowire.AppendTag(out[p.start:p.start], 1, protowire.BytesType), uint64(p.n))
	}
	var bad atomic.Bool
	parallel(len(parts), func(i int) {
		p := parts[i]
		b := out[p.at : p.at+p.n]
		if _, err := p.f.ReadAt(b, p.off); err != nil {
			bad.Store(true)
			return
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != p.name {
			bad.Store(true)
		}
	})
	if bad.Load() {
		return nil, 0, errBlob
	}
	return out, len(sorted), nil
}

// setPart is one blob of a set: where it is read from and where it goes in the set.
type setPart struct {
	name string
	f    *os.File
	off  int64
	// start is where its tag goes in the set, at where its bytes go; n is their length.
	start, at, n int
}
