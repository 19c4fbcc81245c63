package envplan

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/protogen"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/state"
)

// PrepareCached is Prepare for the repository whose evctl.yaml config.Find returns for explicit
// and dir, with a cost that grows with what changed rather than with the repository:
//
//   - the contracts are checked by lint's incremental check (lint.CheckIncremental);
//   - what each event wants of the kinds that compile it (envconn.CompiledKinds: its descriptor
//     set, its tables' columns) is cached per event file under CacheDir, keyed by evctl's build,
//     the environment, evctl.yaml, consumers/, the non-event files under contracts/ and the
//     file itself, so only changed events are loaded and compiled, a chunk at a time; their sets
//     are kept in the cache's folder and read when they are published or diffed, so no run holds
//     every event's set;
//   - the other kinds want their resources from every event's YAML without its schema, kept in
//     the same cache;
//   - with opts.Refresh fast, the plan reads only what plan.BuildFast reads.
//
// The plan is Prepare's (TestCachedPlanEqualsFull), except the drift a fast refresh does not read.
func PrepareCached(ctx context.Context, explicit, dir, env string, opts Options) (*Run, error) {
	if opts.Getenv == nil {
		return nil, fmt.Errorf("envplan: no Getenv")
	}
	// What the planner needs is known before lint runs, so the events lint compiles are planned
	// as lint hands them over (lint.CompiledFunc) rather than compiled a second time.
	pr, conn := early(ctx, explicit, dir, env, opts)
	iopts := lint.IncrOptions{SkipGenFresh: true}
	if pr != nil {
		iopts.Compiled = pr.take
	}
	done := false
	defer func() {
		if !done && conn != nil {
			pr.waitState()
			conn.Close()
		}
	}()
	rep, err := lint.CheckIncremental(ctx, explicit, dir, iopts)
	if err != nil {
		return nil, err
	}
	if rep.Diags.HasErrors() {
		var only diag.List
		for _, d := range rep.Diags {
			if d.Severity == diag.Error {
				only = append(only, d)
			}
		}
		return nil, &LintError{Diags: only}
	}
	if pr != nil && rep.Fallback != "" {
		// Chunks handed over before lint stood aside for the whole pipeline are not relied
		// on: their files are compiled again, as if nothing had been handed over.
		pr.handed, pr.handedFull = nil, nil
	}
	if pr == nil {
		cfgPath, err := config.Find(explicit, dir)
		if err != nil {
			return nil, err
		}
		project, _, err := config.Load(cfgPath)
		if err != nil {
			return nil, err
		}
		cfg, err := project.Env(env)
		if err != nil {
			return nil, err
		}
		consumers, _ := consumer.LoadAll(project.Root)
		conn, err = envconn.Open(ctx, project, env, envconn.Options{Getenv: opts.Getenv, Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		pr = &preparer{root: project.Root, env: env, cfg: cfg, project: project, consumers: consumers, reg: conn.Registry, compiled: envconn.CompiledKinds()}
		if err := pr.scan(cfgPath); err != nil {
			return nil, err
		}
	}
	run, err := pr.prepare(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	done = true
	return run, nil
}

// early is the preparer and the open environment before lint runs, with the cache read and
// the files to compile known; nil when any of it fails (evctl.yaml does not load, an unknown
// environment, a state store that does not open), so that lint's findings come first and
// PrepareCached then reports what failed as before.
func early(ctx context.Context, explicit, dir, env string, opts Options) (*preparer, *envconn.Conn) {
	cfgPath, err := config.Find(explicit, dir)
	if err != nil {
		return nil, nil
	}
	project, ds, err := config.Load(cfgPath)
	if err != nil || ds.HasErrors() {
		return nil, nil
	}
	cfg, err := project.Env(env)
	if err != nil {
		return nil, nil
	}
	consumers, ds := consumer.LoadAll(project.Root)
	if ds.HasErrors() {
		return nil, nil
	}
	conn, err := envconn.Open(ctx, project, env, envconn.Options{Getenv: opts.Getenv, Logger: opts.Logger})
	if err != nil {
		return nil, nil
	}
	pr := &preparer{root: project.Root, env: env, cfg: cfg, project: project, consumers: consumers, reg: conn.Registry, compiled: envconn.CompiledKinds()}
	if err := pr.scan(cfgPath); err != nil {
		conn.Close()
		return nil, nil
	}
	// The state is read while lint runs (10,000 events' resources are a few MB of JSON).
	pr.state = make(chan stateRead, 1)
	go func() {
		st, _, err := state.Read(ctx, conn.State, env)
		pr.state <- stateRead{st, err}
	}()
	return pr, conn
}

// TuneGC trades memory a run does not need for less garbage collection and returns the function
// that restores the settings (as lint's incremental check does): the cached pipeline keeps a
// small live heap, so GOGC=400 under a 768 MiB soft limit keeps peak RSS under 1 GB on 10,000
// events with a fifth of the collections. GOGC or GOMEMLIMIT set by the user win.
func TuneGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(400)
	limit := debug.SetMemoryLimit(768 << 20)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// preparer is one PrepareCached in progress.
type preparer struct {
	root      string
	env       string
	cfg       config.Environment
	project   *config.Project
	consumers []*consumer.Consumer
	reg       *sink.Registry
	compiled  map[string]bool // envconn.CompiledKinds
	files     map[string]string

	// What scan found: the cache, the event files and their keys, and those to compile.
	cache    *planCache
	stats    map[string]workspace.FileStat
	read     int
	taken    int64
	useCache bool
	global   string
	all      []string
	entries  map[string]*cacheEntry // valid cached entries, by file
	dirty    []string

	// What lint handed over (take, handover.go): entries (by file) and complete resources
	// (by event) of dirty files, planned from lint's compilation.
	handed     map[string]*cacheEntry
	handedFull map[string][]sink.Desired
	dirtySet   map[string]bool

	// state, when set, delivers the environment's state read since early (readState).
	state chan stateRead
}

type stateRead struct {
	st  *state.Resources
	err error
}

// readState returns the environment's state: as read since early, or read now.
func (pr *preparer) readState(ctx context.Context, conn *envconn.Conn) (*state.Resources, error) {
	if pr.state != nil {
		r := <-pr.state
		pr.state = nil
		return r.st, r.err
	}
	st, _, err := state.Read(ctx, conn.State, pr.env)
	return st, err
}

// waitState waits for the state read since early, when it is still in flight, so that nothing
// reads over a connection being closed.
func (pr *preparer) waitState() {
	if pr != nil && pr.state != nil {
		<-pr.state
		pr.state = nil
	}
}

// scan reads the cache and the tree and finds the event files whose cache entry does not hold.
func (pr *preparer) scan(cfgPath string) error {
	pr.cache = loadCache(pr.root, pr.env)
	build, buildOK := workspace.BuildID()
	pr.taken = time.Now().UnixNano()
	stats, read, scanned := workspace.ScanTreeKnown(pr.root, contract.Dir, pr.cache.Stats, pr.cache.Taken)
	cons, _, consOK := workspace.ScanTreeKnown(pr.root, consumer.Dir, nil, 0)
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("envplan: %w", err)
	}
	files, _ := contract.Files(pr.root)
	isEvent := make(map[string]bool, len(files))
	for _, f := range files {
		isEvent[f] = true
	}
	pr.stats, pr.read, pr.all = stats, read, files
	pr.useCache = buildOK && scanned && consOK
	pr.global = globalKey(build, pr.env, cfgData, cons, stats, isEvent)
	pr.entries = make(map[string]*cacheEntry, len(files))
	pr.dirty = nil
	for _, f := range files {
		if !pr.useCache {
			pr.dirty = append(pr.dirty, f)
			continue
		}
		if e := pr.cache.Entries[f]; e != nil && e.Key == entryKey(pr.global, f, stats[f].Sum) {
			pr.entries[f] = e
			continue
		}
		pr.dirty = append(pr.dirty, f)
	}
	return nil
}

func (pr *preparer) prepare(ctx context.Context, conn *envconn.Conn, opts Options) (*Run, error) {
	cache, stats, read, taken, useCache, global, entries := pr.cache, pr.stats, pr.read, pr.taken, pr.useCache, pr.global, pr.entries
	// The dirty files lint handed over are planned already; the others are compiled here.
	var dirty []string
	for _, f := range pr.dirty {
		if _, ok := pr.handed[f]; !ok {
			dirty = append(dirty, f)
		}
	}
	fresh, full, err := pr.compileFiles(ctx, dirty, false)
	if err != nil {
		return nil, err
	}
	for f, e := range pr.handed {
		fresh[f] = e
	}
	for id, ds := range pr.handedFull {
		full[id] = ds
	}
	pr.handed, pr.handedFull = nil, nil
	dirty = pr.dirty
	for f, e := range fresh {
		if useCache {
			e.Key = entryKey(global, f, stats[f].Sum)
		}
		entries[f] = e
	}
	// Nothing read again and nothing compiled: the cache on disk says all there is to say.
	if useCache && (len(dirty) > 0 || read > 0 || len(entries) != len(cache.Entries)) {
		next := &planCache{Version: cacheVersion, Stats: stats, Taken: taken, Entries: entries}
		if err := next.save(pr.root, pr.env); err != nil && opts.Logger != nil {
			opts.Logger.Warn("the plan cache could not be saved; the next plan compiles again", "err", err)
		}
	}

	// The hosted events as the kinds that do not compile see them, sorted by ID.
	var hosted []*cacheEntry
	pr.files = map[string]string{}
	for f, e := range entries {
		if e.Hosted {
			hosted = append(hosted, e)
			pr.files[e.ID] = f
		}
	}
	sort.Slice(hosted, func(i, j int) bool { return hosted[i].ID < hosted[j].ID })
	events := make([]*contract.Event, len(hosted))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, e := range hosted {
		g.Go(func() (err error) {
			events[i], err = unstub(e.Stub)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	t := &sink.Target{Env: pr.env, Config: pr.cfg, Project: pr.project, Events: events, Consumers: pr.consumers}
	want := map[string][]sink.Desired{}
	lite := map[string]bool{}
	for _, kind := range pr.reg.Kinds() {
		if !pr.compiled[kind] {
			ds, err := pr.reg.Get(kind).Desire(t)
			if err != nil {
				return nil, err
			}
			if len(ds) > 0 {
				want[kind] = ds
			}
			continue
		}
		var ds []sink.Desired
		for _, e := range hosted {
			if got, ok := full[e.ID]; ok {
				for _, d := range got {
					if d.Kind == kind {
						if d.Spec == nil {
							lite[sink.Ref(d.Kind, d.Name)] = true
						}
						ds = append(ds, d)
					}
				}
				continue
			}
			for _, l := range e.Desired {
				if l.Kind != kind {
					continue
				}
				d := sink.Desired{Event: l.Event, Kind: l.Kind, Name: l.Name, Stage: l.Stage, Hash: l.Hash, DependsOn: l.DependsOn}
				if l.Entry != nil {
					if _, err := os.Stat(setPath(pr.root, l.Entry.SHA256)); err == nil {
						d.Spec = descriptor.Spec{Entry: *l.Entry, Load: setLoader(pr.root, l.Entry.SHA256)}
					}
				}
				if d.Spec == nil {
					lite[sink.Ref(d.Kind, d.Name)] = true
				}
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			want[kind] = ds
		}
	}
	full = nil

	st, err := pr.readState(ctx, conn)
	if err != nil {
		return nil, err
	}
	fo := plan.FastOptions{Options: plan.Options{Env: pr.env, State: st, Target: t}, Lite: lite, Resolve: pr.resolve}
	var p *plan.Plan
	if opts.Refresh == plan.RefreshFast {
		fo.ObserveAll = envconn.CheapKinds()
	} else {
		// Everything is read: every kind is observed in full.
		fo.ObserveAll = map[string]bool{}
		for _, k := range pr.reg.Kinds() {
			fo.ObserveAll[k] = true
		}
	}
	p, err = plan.BuildFast(ctx, pr.reg, want, fo)
	if err != nil {
		return nil, err
	}
	ws := &workspace.Workspace{Project: pr.project, Consumers: pr.consumers}
	if err := pr.blockBreaking(ctx, ws, conn, p, opts); err != nil {
		return nil, err
	}
	return &Run{Workspace: ws, Conn: conn, Target: t, State: st, Plan: p}, nil
}

// compileFiles loads event files, a batch at a time, and compiles those the environment hosts:
// each file's cache entry (its Key left for the caller), and for each hosted event its wanted
// resources of the compiled kinds. A resource of a kind whose sink is disabled here keeps no
// spec (it is only ever skipped), unless all is set; descriptor sets go to the cache's folder.
func (pr *preparer) compileFiles(ctx context.Context, files []string, all bool) (map[string]*cacheEntry, map[string][]sink.Desired, error) {
	entries := make(map[string]*cacheEntry, len(files))
	full := map[string][]sink.Desired{}
	var mu sync.Mutex
	for start := 0; start < len(files); start += compileBatch {
		part := files[start:min(start+compileBatch, len(files))]
		evs := make([]*contract.Event, len(part))
		outs := make([]*protogen.Output, len(part))
		errs := make([]error, len(part))
		base := &workspace.Workspace{Project: pr.project, Consumers: pr.consumers}
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		for i, f := range part {
			g.Go(func() error {
				ev, ds, _ := contract.LoadFile(pr.root, f)
				if ev == nil || ds.HasErrors() {
					errs[i] = fmt.Errorf("envplan: %s does not load; run `evctl lint`", f)
					return nil
				}
				e := &cacheEntry{ID: ev.ID(), Hosted: pr.cfg.Hosts(ev.Stage)}
				b, err := stub(ev)
				if err != nil {
					errs[i] = err
					return nil
				}
				e.Stub = b
				mu.Lock()
				entries[f] = e
				mu.Unlock()
				if !e.Hosted {
					return nil
				}
				out, ds := base.Effective(ev)
				if out == nil || ds.HasErrors() {
					errs[i] = fmt.Errorf("envplan: %s: no effective contract; run `evctl lint`", f)
					return nil
				}
				if ev.Doc != nil {
					ev.Doc.Release()
				}
				evs[i], outs[i] = ev, out
				return nil
			})
		}
		_ = g.Wait()
		byPath := map[string]*contract.Event{}
		var todo []*protogen.Output
		for i, err := range errs {
			if err != nil {
				return nil, nil, err
			}
			if outs[i] != nil {
				todo = append(todo, outs[i])
				byPath[outs[i].Path] = evs[i]
			}
		}
		// Compiled with source info, as lint.Check compiles: the kinds read descriptions
		// (column comments) from the descriptors, which compile.CompileEach does not keep.
		res, ds := compile.Compile(ctx, pr.root, todo)
		if ds.HasErrors() {
			return nil, nil, fmt.Errorf("envplan: compile: %s; run `evctl lint`", ds[0].Message)
		}
		var chunk []*contract.Event
		for _, o := range res.Outputs {
			chunk = append(chunk, byPath[o.Path])
		}
		sort.Slice(chunk, func(i, j int) bool { return chunk[i].ID() < chunk[j].ID() })
		if err := pr.desireCompiled(res, chunk, entries, full, all); err != nil {
			return nil, nil, err
		}
	}
	return entries, full, nil
}

// compileBatch is how many event files compileFiles loads at a time.
const compileBatch = 256

// desireCompiled runs the compiled kinds over one compiled chunk, storing descriptor sets in
// the cache and recording each event's resources (lite, in its entry, and complete, in full).
func (pr *preparer) desireCompiled(res *compile.Result, chunk []*contract.Event, entries map[string]*cacheEntry, full map[string][]sink.Desired, all bool) error {
	t := &sink.Target{Env: pr.env, Config: pr.cfg, Project: pr.project, Events: chunk, Compiled: res, Consumers: pr.consumers}
	byID := map[string]*cacheEntry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	for _, kind := range pr.reg.Kinds() {
		if !pr.compiled[kind] {
			continue
		}
		s := pr.reg.Get(kind)
		ds, err := s.Desire(t)
		if err != nil {
			return err
		}
		keep := all || sink.DisabledReason(s) == ""
		for _, d := range ds {
			l := toLite(d)
			if spec, ok := d.Spec.(descriptor.Spec); ok {
				b, err := spec.Bytes()
				if err != nil {
					return err
				}
				if err := putSet(pr.root, spec.SHA256, b); err != nil {
					return err
				}
				entry := spec.Entry
				l.Entry = &entry
				d.Spec = descriptor.Spec{Entry: spec.Entry, Load: setLoader(pr.root, spec.SHA256)}
			}
			if e := byID[d.Event]; e != nil {
				e.Desired = append(e.Desired, l)
			}
			if !keep {
				d.Spec = nil
			}
			full[d.Event] = append(full[d.Event], d)
		}
	}
	return nil
}

// resolve gives the complete wanted resources of the compiled kinds of events (plan.FastOptions
// Resolve): they are loaded and compiled again.
func (pr *preparer) resolve(ctx context.Context, events []string) (map[string]sink.Desired, error) {
	var files []string
	for _, id := range events {
		if f, ok := pr.files[id]; ok {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	_, full, err := pr.compileFiles(ctx, files, true)
	if err != nil {
		return nil, err
	}
	out := map[string]sink.Desired{}
	for _, ds := range full {
		for _, d := range ds {
			out[sink.Ref(d.Kind, d.Name)] = d
		}
	}
	return out, nil
}

// blockBreaking is blockBreaking over the changed prod events alone, loaded again (the plan
// holds no compiled contracts).
func (pr *preparer) blockBreaking(ctx context.Context, ws *workspace.Workspace, conn *envconn.Conn, p *plan.Plan, opts Options) error {
	ids := descriptor.ChangedProd(p.Changes)
	if len(ids) == 0 || conn.Descriptors == nil {
		return nil
	}
	cur := &workspace.Workspace{Project: ws.Project, Consumers: ws.Consumers}
	for _, id := range ids {
		f, ok := pr.files[id]
		if !ok {
			continue
		}
		ev, ds, _ := contract.LoadFile(pr.root, f)
		if ev == nil || ds.HasErrors() {
			return fmt.Errorf("envplan: %s does not load; run `evctl lint`", f)
		}
		cur.Events = append(cur.Events, ev)
	}
	sort.Slice(cur.Events, func(i, j int) bool { return cur.Events[i].ID() < cur.Events[j].ID() })
	return blockBreaking(ctx, cur, nil, conn.Descriptors, pr.env, p, opts)
}
