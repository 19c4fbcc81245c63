package lint

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// IncrOptions tune CheckIncremental.
type IncrOptions struct {
	// Today is "YYYY-MM-DD" for waiver expiry; empty means the real date.
	Today string
	// SkipGenFresh skips GEN_STALE and CODEOWNERS_STALE (`evctl build`).
	SkipGenFresh bool
	// Compiled, when set, is handed each chunk of events this run compiles (incrhook.go).
	Compiled CompiledFunc
	// CacheDir, when set, holds the cache instead of the repository's .evctl/cache. The
	// --no-cache commands point it at an empty folder they remove afterwards: every event is
	// checked again, nothing of .evctl/cache is read or written, and the run is this chunked
	// one, whose memory holds a chunk's descriptors rather than the whole repository's.
	CacheDir string
}

// IncrReport is the outcome of CheckIncremental: the same findings as Check, and the descriptor
// set `evctl build` writes, byte for byte.
type IncrReport struct {
	Diags diag.List
	// Events is how many events the repository holds (files that parse into an event).
	Events int
	// Checked is how many of them were checked again (not taken from the cache).
	Checked int
	// Fallback says why the whole pipeline (Check) ran instead, or is "".
	Fallback string
	root     string
	store    *incrStore
	entries  []*incrEntry // compiled entries, for the set
	full     *Report
	// again runs the whole pipeline, for a set whose stored files went missing meanwhile.
	again func() (*IncrReport, error)
}

// Root is the repository root.
func (r *IncrReport) Root() string { return r.root }

// errFallback stops the incremental path: the whole pipeline must run for exact findings.
type errFallback struct{ why string }

func (e *errFallback) Error() string { return "lint: incremental: " + e.why }

func fallback(format string, args ...any) error {
	return &errFallback{why: fmt.Sprintf(format, args...)}
}

// CheckIncremental runs every rule Check runs on the repository whose evctl.yaml Find returns for
// explicit and dir, reusing per-event results from .evctl/cache/incr: each event file's findings,
// effective contract and compiled descriptor are keyed by the sha256 of what produced them (evctl's
// build, evctl.yaml, the file, the raw .proto and the repository files it imports, and the date
// when waivers are involved). Only events whose inputs changed are loaded and compiled; the
// repository-wide rules (unique names, consumers, CODEOWNERS, gen/ freshness) run over the
// cached summaries of the others.
//
// The findings and the set are those of a cold Check, byte for byte
// (TestIncrementalMatchesCold). Where the per-event results could differ from a compilation of
// the whole repository in one piece (a compiler finding, a name declared in two files, a raw
// .proto importing an effective contract, a broken evctl.yaml, a symlink among the inputs), the
// whole pipeline runs instead; Fallback says why.
func CheckIncremental(ctx context.Context, explicit, dir string, opts IncrOptions) (*IncrReport, error) {
	if opts.Today == "" {
		opts.Today = time.Now().UTC().Format(time.DateOnly)
	}
	cfgPath, err := config.Find(explicit, dir)
	if err != nil {
		return nil, err
	}
	r, err := checkIncremental(ctx, cfgPath, opts)
	var fb *errFallback
	if errors.As(err, &fb) {
		return checkFull(ctx, explicit, dir, opts, fb.why)
	}
	if r != nil {
		r.again = func() (*IncrReport, error) { return checkFull(ctx, explicit, dir, opts, "a stored file went missing") }
	}
	return r, err
}

// checkFull is the whole pipeline, for a repository the incremental path stands aside from.
func checkFull(ctx context.Context, explicit, dir string, opts IncrOptions, why string) (*IncrReport, error) {
	ws, err := workspace.Open(explicit, dir)
	if err != nil {
		return nil, err
	}
	rep := Check(ctx, ws, Options{Today: opts.Today, SkipGenFresh: opts.SkipGenFresh, ForSet: true})
	return &IncrReport{Diags: rep.Diags, Events: len(ws.Events), Checked: len(ws.Events), Fallback: why, root: ws.Root(), full: rep}, nil
}

// Set returns the deterministic descriptor set of every compiled event, as
// compile.Marshal(compile.FileSet(...)) of a cold compilation gives it, and how many events it
// holds. Call it only on a report without errors.
func (r *IncrReport) Set() ([]byte, int, error) {
	if r.full != nil {
		b, _, err := compile.NewSetCache(r.full.Compiled).Marshal(nil)
		return b, len(r.full.Compiled.Files), err
	}
	b, n, err := r.store.set(r.entries)
	if errors.Is(err, errBlob) && r.again != nil {
		full, ferr := r.again()
		if ferr != nil {
			return nil, 0, ferr
		}
		if !reflect.DeepEqual(full.Diags, r.Diags) {
			return nil, 0, fmt.Errorf("lint: the repository changed while it was built; run again")
		}
		return full.Set()
	}
	return b, n, err
}

// incrRun is one incremental check in progress.
type incrRun struct {
	opts    IncrOptions
	project *config.Project
	root    string
	store   *incrStore
	idx     *incrIndexFile
	scan    map[string]string // contracts/** by repository path
	cfgKey  string
	// compiler keeps the files every batch imports, compiled once.
	compiler *compile.Each
	mu       sync.Mutex // guards idx's imports while chunks are recorded on every core
	// genScan is the scan of gen/ started with the run, unless it skips gen/ freshness.
	genScan *genScan
	// stats are the files scanned (contracts/, then gen/proto), taken at taken; statsRead
	// counts those read because their stat did not vouch for them.
	stats      map[string]workspace.FileStat
	taken      int64
	statsRead  int
	genScanned bool
}

func checkIncremental(ctx context.Context, cfgPath string, opts IncrOptions) (_ *IncrReport, err error) {
	project, cdiags, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	if project.Doc == nil {
		return nil, fallback("evctl.yaml does not parse")
	}
	exe, ok := workspace.BuildID()
	if !ok {
		return nil, fallback("evctl's build cannot be identified")
	}
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fallback("evctl.yaml cannot be read again")
	}
	defer tuneGC()()
	run := &incrRun{opts: opts, project: project, root: project.Root, store: openIncrStore(project.Root), compiler: compile.NewEach(project.Root)}
	if opts.CacheDir != "" {
		run.store.dir = filepath.Join(opts.CacheDir, incrDir)
	}
	defer func() {
		if err != nil {
			run.store.discard()
		}
		run.store.close()
	}()
	run.cfgKey = sum("config", incrVersion, exe, workspace.ContentSum(cfgData))
	run.idx = run.store.load()
	run.taken = time.Now().UnixNano()
	// An event file with no entry is loaded, so read, whatever its sum: the scan leaves it
	// unread, and the loading fills its sum in (fill).
	stats, read, ok := workspace.ScanTreeLazy(run.root, contract.Dir, run.idx.Stats, run.idx.StatsTaken, func(r string) bool {
		return run.idx.Entries[r] == nil && strings.HasSuffix(r, ".yaml")
	})
	if !ok {
		return nil, fallback("a symlink, special or unreadable file under contracts/")
	}
	run.stats, run.statsRead = stats, read
	run.scan = make(map[string]string, len(stats))
	for p, st := range stats {
		run.scan[p] = st.Sum
	}
	files, layout := contract.Files(run.root)
	consumers, consDiags := consumer.LoadAll(run.root)
	forced := map[string]bool{} // events consumers list: their compiled messages are needed
	for _, c := range consumers {
		for _, id := range c.Events {
			forced[id] = true
		}
	}

	// Which files are cached, which are loaded again.
	slots := make([]*slot, len(files))
	var misses []*slot
	for i, f := range files {
		s := &slot{file: f}
		slots[i] = s
		if e := run.idx.Entries[f]; e != nil && run.valid(e, f, forced) {
			s.entry = e
			continue
		}
		misses = append(misses, s)
	}
	var diags diag.List
	diags.Add(cdiags...)
	diags.Add(layout...)
	diags.Add(consDiags...)
	base := &workspace.Workspace{Project: project, Consumers: consumers}
	projectDiags, platform := checkProject(base)
	if platform.HasErrors() {
		return nil, fallback("evctl.yaml's platform fields have errors")
	}
	diags.Add(projectDiags...)

	if !opts.SkipGenFresh {
		// After the scan of contracts/, which the loading waits for; beside the loading,
		// which keeps the cores busy anyway.
		run.genScan = run.scanGen()
		defer run.genScan.wait()
	}

	// Events loaded again, a batch at a time so that memory holds one batch's contracts and
	// one chunk's descriptors, not the repository's: their own rules, effective contracts and
	// compilation. Only the events consumers list stay loaded, for the consumer rules.
	fresh := map[string]*incrEntry{}
	loaded := map[string]*contract.Event{}              // by file: events kept loaded
	kept := map[string]protoreflect.MessageDescriptor{} // for the consumer rules
	blobs := map[string]string{}                        // shared file path -> blob, this run
	checked := 0
	for start := 0; start < len(misses); start += incrBatch {
		part := misses[start:min(start+incrBatch, len(misses))]
		parallel(len(part), func(i int) {
			s := part[i]
			s.ev, s.load, s.data = contract.LoadFile(run.root, s.file)
			run.checkOne(base, s)
		})
		if err := run.fill(part); err != nil {
			return nil, err
		}
		if err := run.checkBatch(ctx, base, part, fresh, forced, kept, blobs); err != nil {
			return nil, err
		}
		for _, s := range part {
			if s.ev != nil {
				checked++
				if forced[s.ev.ID()] {
					loaded[s.file] = s.ev
				}
			}
			s.ev, s.data, s.out = nil, nil, nil
		}
	}

	run.store.syncAhead()

	// The workspace the repository-wide rules see: loaded events, and stand-ins made from the
	// summaries for the others, in the order workspace.Open gives.
	shadow := &workspace.Workspace{Project: project, Consumers: consumers}
	for _, s := range slots {
		e := s.entry
		if e == nil {
			e = fresh[s.file]
		}
		switch {
		case loaded[s.file] != nil:
			shadow.Events = append(shadow.Events, loaded[s.file])
		case e.Event != nil:
			shadow.Events = append(shadow.Events, e.Event.stub())
		}
	}
	sort.SliceStable(shadow.Events, func(i, j int) bool { return shadow.Events[i].ID() < shadow.Events[j].ID() })

	// The repository-wide rules.
	entries := make([]*incrEntry, 0, len(slots))
	for _, s := range slots {
		e := s.entry
		if e == nil {
			e = fresh[s.file]
		}
		entries = append(entries, e)
		diags.Add(e.Diags...)
	}
	global, err := run.globalRules(shadow, kept)
	if err != nil {
		return nil, err
	}
	diags.Add(global...)
	if err := run.effectiveImports(shadow, entries); err != nil {
		return nil, err
	}
	if err := run.clashes(entries); err != nil {
		return nil, err
	}
	if !opts.SkipGenFresh && !diags.HasErrors() {
		gen, err := run.genFresh(entries)
		if err != nil {
			return nil, err
		}
		diags.Add(gen...)
		diags.Add(checkCodeOwners(shadow)...)
	}
	diags = dropCascades(diags)
	diags.Sort()

	run.save(files, fresh)
	rep := &IncrReport{Diags: diags, Events: len(shadow.Events), Checked: checked, root: run.root, store: run.store}
	for _, e := range entries {
		if e.Compiled {
			rep.entries = append(rep.entries, e)
		}
	}
	return rep, nil
}

// incrBatch is how many event files are loaded and compiled at a time.
const incrBatch = 512

// slot is one event file of a run.
type slot struct {
	file  string
	entry *incrEntry // a valid cached entry, or nil
	ev    *contract.Event
	load  diag.List
	data  []byte
	sum   string           // the sum of data (or the scanned one, when it could not be read)
	fresh *incrEntry       // the entry made for a loaded file
	out   *protogen.Output // its effective contract, when it could be made
}

// checkOne runs an event file's own rules and makes its effective contract, as Check does;
// the loaded files of a batch go through it on every core.
func (run *incrRun) checkOne(base *workspace.Workspace, s *slot) {
	s.sum = run.scan[s.file]
	if s.data != nil {
		s.sum = workspace.ContentSum(s.data)
	}
	e := &incrEntry{Key: sum("event", run.cfgKey, s.file, s.sum), Diags: append(diag.List(nil), s.load...)}
	s.fresh = e
	if s.ev == nil {
		return
	}
	ev := s.ev
	e.Event = summarize(ev)
	if len(ev.Waivers) > 0 {
		e.Today = run.opts.Today
	}
	e.Diags.Add(checkCounterWindows(ev)...)
	e.Diags.Add(checkCounterMilestones(ev)...)
	ds := checkEvent(base, ev, Options{Today: run.opts.Today})
	e.Diags.Add(ds...)
	if ev.Schema.Proto != nil {
		if raw, d := protogen.RawPath(ev); d == nil {
			e.Deps = append(e.Deps, incrDep{Path: raw, Sum: run.scan[raw]})
		}
	}
	if ds.HasErrors() || s.load.HasErrors() {
		return
	}
	out, ds := base.EffectiveParsed(ev)
	e.Diags.Add(ds...)
	if out != nil && !ds.HasErrors() {
		s.out = out
	}
}

// fill records the sums of the loaded files the scan left unread (ScanTreeLazy). One that could
// not be read stands aside, as the scan does.
func (run *incrRun) fill(part []*slot) error {
	for _, s := range part {
		st, ok := run.stats[s.file]
		if !ok || st.Sum != "" {
			continue
		}
		if s.data == nil {
			if st.Size <= yamlsrc.MaxFileSize {
				return fallback("%s cannot be read", s.file)
			}
			continue // too large to load: its sum stays unknown, so it is read next time
		}
		st.Sum = s.sum
		run.stats[s.file], run.scan[s.file] = st, s.sum
	}
	return nil
}

// checkBatch checks a batch of loaded event files and makes their entries: the event's own
// rules, its effective contract, and the compiled-contract rules, as Check runs them.
func (run *incrRun) checkBatch(ctx context.Context, base *workspace.Workspace, part []*slot, fresh map[string]*incrEntry, forced map[string]bool, kept map[string]protoreflect.MessageDescriptor, blobs map[string]string) error {
	var evs []*contract.Event
	var outs []*protogen.Output
	byEvent := map[*contract.Event]*incrEntry{}
	// Events by their effective contract: two files can hold events of one ID (an error, but
	// only one of them compiles), so the compiled file is matched by its output, not its ID.
	byOut := map[*protogen.Output]*contract.Event{}
	for _, s := range part {
		fresh[s.file] = s.fresh
		if s.ev == nil {
			continue
		}
		byEvent[s.ev] = s.fresh
		evs = append(evs, s.ev)
		if s.out != nil {
			outs = append(outs, s.out)
			byOut[s.out] = s.ev
		}
	}
	for _, ev := range evs {
		if ev.Doc != nil {
			ev.Doc.Release()
		}
	}
	return run.compiler.Compile(ctx, outs, 0, func(res *compile.Result, ds diag.List) error {
		if len(ds) > 0 {
			return fallback("the compiler reports %s", ds[0].Rule)
		}
		// The compiled-contract rules (the examples converted) and the recording, on every
		// core: each event's entry is its own; what they share is locked.
		ids := make([]string, 0, len(res.Files))
		for id := range res.Files {
			ids = append(ids, id)
		}
		var mu sync.Mutex
		var first error
		parallel(len(ids), func(i int) {
			id := ids[i]
			ev := byOut[res.Outputs[id]]
			e := byEvent[ev]
			e.Diags.Add(checkCompiled(&workspace.Workspace{Project: base.Project, Events: []*contract.Event{ev}}, res)...)
			err := run.record(e, res.Outputs[id], res.Files[id], res, blobs)
			mu.Lock()
			defer mu.Unlock()
			if forced[id] {
				kept[id] = res.Messages[id]
			}
			if err != nil && first == nil {
				first = err
			}
		})
		if first == nil {
			first = run.handOver(ids, byOut, res)
		}
		return first
	})
}

// effectiveImports stands aside when a file imports an effective contract: resolved in a
// compilation of the whole repository, that import could name another file than it did when
// the importer was compiled.
func (run *incrRun) effectiveImports(shadow *workspace.Workspace, entries []*incrEntry) error {
	effective := map[string]bool{}
	for _, ev := range shadow.Events {
		effective[protogen.FilePath(ev.Domain, ev.Name)] = true
	}
	for _, e := range entries {
		for _, p := range e.Imports {
			if effective[p] {
				return fallback("%s imports the effective contract %s", e.Path, p)
			}
		}
	}
	return nil
}

// tuneGC trades memory the incremental check does not need for less garbage collection, and
// returns the function that restores the settings: it compiles a chunk at a time, so its live
// heap stays small and the default GOGC=100 collects every few megabytes (a sixth of a cold
// run's CPU). GOGC=1000 under a 640 MiB soft limit collects only when the heap nears the
// limit: measured on a loaded machine (noisy), a fresh run used about a tenth less CPU than
// with GOGC=400 on 1,200 and on 10,000 events, for a peak RSS of about 450 and 650 MB, under
// the 1 GB goal. The whole pipeline (a fallback) runs with the settings
// it had; GOGC or GOMEMLIMIT set by the user win.
func tuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(1000)
	limit := debug.SetMemoryLimit(640 << 20)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// valid reports whether a cached entry still stands for file f.
func (run *incrRun) valid(e *incrEntry, f string, forced map[string]bool) bool {
	if e.Key != run.key(f, nil) || (e.Today != "" && e.Today != run.opts.Today) {
		return false
	}
	if e.Event != nil && forced[e.Event.Domain+"/"+e.Event.Name] {
		return false
	}
	for _, d := range e.Deps {
		if run.scan[d.Path] != d.Sum {
			return false
		}
	}
	return true
}

// key is an event file's cache key: evctl's build, evctl.yaml, the path and the content (data
// when given, the content read, else the scanned sum).
func (run *incrRun) key(f string, data []byte) string {
	s := run.scan[f]
	if data != nil {
		s = workspace.ContentSum(data)
	}
	return sum("event", run.cfgKey, f, s)
}

// record fills an entry from its compiled file: the set's files (stored as blobs), the files
// generate writes, the repository files read, and the names declared.
func (run *incrRun) record(e *incrEntry, o *protogen.Output, f linker.File, res *compile.Result, blobs map[string]string) error {
	e.Compiled, e.Path, e.Package = true, o.Path, string(f.Package())
	var ext bool
	if e.Symbols, ext = declared(f); ext {
		return fallback("%s declares extensions", o.Path)
	}
	src, err := run.store.put(o.Source)
	if err != nil {
		return fallback("%v", err)
	}
	e.Gen = append(e.Gen, incrGen{Path: o.Path, Sum: workspace.ContentSum(o.Source), Blob: src})
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor) error
	visit = func(fd protoreflect.FileDescriptor) error {
		p := fd.Path()
		if seen[p] {
			return nil
		}
		seen[p] = true
		imps := fd.Imports()
		for i := 0; i < imps.Len(); i++ {
			if err := visit(imps.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		b, ok := res.Encoding(p)
		if !ok {
			return fallback("no encoding kept for %s", p)
		}
		if p == o.Path {
			name, err := run.store.put(b)
			if err != nil {
				return fallback("%v", err)
			}
			e.Closure = append(e.Closure, incrSet{Path: p, Blob: name})
			return nil
		}
		name, err := run.shared(p, fd, b, blobs)
		if err != nil {
			return err
		}
		e.Closure = append(e.Closure, incrSet{Path: p, Blob: name})
		e.Imports = append(e.Imports, p)
		switch src, isOption := evoptions.Source(p); {
		case strings.HasPrefix(p, "google/protobuf/") || p == evoptions.ValidateFile:
		case isOption:
			e.Gen = append(e.Gen, incrGen{Path: p, Sum: workspace.ContentSum(src)})
		default:
			rp := contract.Dir + "/" + p
			e.Deps = append(e.Deps, incrDep{Path: rp, Sum: run.scan[rp]})
			e.Gen = append(e.Gen, incrGen{Path: p, Sum: run.scan[rp]})
		}
		return nil
	}
	return visit(f)
}

// shared stores an import's encoding and names once per run (the chunks compiled on every core
// share them).
func (run *incrRun) shared(p string, fd protoreflect.FileDescriptor, b []byte, blobs map[string]string) (string, error) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if name, ok := blobs[p]; ok {
		return name, nil
	}
	name, err := run.store.put(b)
	if err != nil {
		return "", fallback("%v", err)
	}
	blobs[p] = name
	run.idx.Imports[p] = name
	names, ext := declared(fd)
	run.idx.ImportSyms[p] = incrSyms{Package: string(fd.Package()), Names: names}
	if ext && !strings.HasPrefix(p, "google/protobuf/") && p != evoptions.ValidateFile {
		if _, isOption := evoptions.Source(p); !isOption {
			return "", fallback("%s declares extensions", p)
		}
	}
	return name, nil
}

func (e *incrEvent) stub() *contract.Event {
	ev := &contract.Event{Name: e.Name, Domain: e.Domain, Dir: e.Dir, File: e.File, Owner: contract.Owner{Team: e.Team, Pod: e.Pod}}
	if e.Raw {
		ev.Schema.Proto = &contract.ProtoRef{File: e.ProtoFile}
	}
	for _, c := range e.Counters {
		ev.Counters = append(ev.Counters, contract.Counter{Name: c})
	}
	return ev
}

func summarize(ev *contract.Event) *incrEvent {
	s := &incrEvent{Name: ev.Name, Domain: ev.Domain, Dir: ev.Dir, File: ev.File, Team: ev.Owner.Team, Pod: ev.Owner.Pod}
	if ev.Schema.Proto != nil {
		s.Raw, s.ProtoFile = true, ev.Schema.Proto.File
	}
	for _, c := range ev.Counters {
		s.Counters = append(s.Counters, c.Name)
	}
	return s
}

// parallel runs fn(0..n-1) on every core.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(runtime.GOMAXPROCS(0), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func sum(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
