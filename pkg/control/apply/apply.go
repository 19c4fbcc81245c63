// Package apply executes a plan in one environment: in waves of kinds that depend only on earlier
// waves (sink.Registry.Waves, from each kind's DependsOn: descriptors and team users, then topics
// and tables, then ACLs), batched per kind with the kinds of a wave running concurrently, a
// failed resource marking its dependents skipped and never stopping the others. Parallelism 1
// applies one resource at a time instead (the baseline). Every resource's status goes to the
// state store, with the intent ("pending") written before a change is made, so a run killed at
// any point is finished by the next one. It holds the environment lock for the whole run and
// appends one audit record. It knows no resource kind by name. It never prints, reads the
// process environment or exits: what the caller wants to see or hook comes in through Options.
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// Options tune a run.
type Options struct {
	Env          string
	Commit       string
	Who          string
	AllowDestroy bool
	// RetryFailed runs only resources whose recorded status is failed or skipped.
	RetryFailed bool
	// Events limits the run to these event IDs (empty: all).
	Events []string
	// Parallelism 1 applies one resource at a time (the baseline); more uses batches per kind.
	Parallelism int
	// StaleLock is how old a lock must be before it may be broken (0: never).
	StaleLock time.Duration
	// BreakDeadLock breaks the lock of an apply killed on this machine (state.LockOptions
	// BreakIfGone); Report.BrokeLock then names it.
	BreakDeadLock bool
	// Progress, when set, is told about each resource as it finishes.
	Progress func(Result)
	// AfterEach, when set, is called after each resource is applied with how many have been so
	// far, and makes the run apply one resource at a time. The CLI's crash test hook
	// (EVCTL_TEST_CRASH_AFTER) uses it to kill the process mid-run, to prove that a killed
	// apply converges on the next run.
	AfterEach func(applied int)
}

// Result is how one resource ended.
type Result struct {
	Event  string       `json:"event"`
	Kind   string       `json:"kind"`
	Name   string       `json:"name"`
	Action sink.Action  `json:"action"`
	Status state.Status `json:"status"`
	Error  string       `json:"error,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	Env     string   `json:"env"`
	Results []Result `json:"results"`
	Audit   string   `json:"audit_id"`
	// BrokeLock is the lock of a killed or stale apply this run broke to start, if any.
	BrokeLock *state.LockInfo `json:"broke_lock,omitempty"`
}

// Failed reports whether any resource failed or was blocked (SPEC 3: apply exits 1 then).
// Skipped alone is not failure: a sink this environment does not provision, or a delete that
// waits for --allow-destroy; a resource skipped because its dependency failed comes with that
// failure.
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if x.Status == state.StatusFailed || x.Status == state.StatusPending || x.Action == sink.Blocked {
			return true
		}
	}
	return false
}

// Run executes p. The lock is taken first; a held lock is a *state.LockedError.
func Run(ctx context.Context, reg *sink.Registry, store blob.Store, p *plan.Plan, opts Options) (*Report, error) {
	started := time.Now().UTC()
	lock, err := state.Acquire(ctx, store, opts.Env, state.LockOptions{Holder: opts.Who, StaleAfter: opts.StaleLock, BreakIfGone: opts.BreakDeadLock})
	if err != nil {
		return nil, err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	st, gen, err := state.Read(ctx, store, opts.Env)
	if err != nil {
		return nil, err
	}
	r := &runner{reg: reg, store: store, opts: opts, done: map[string]state.Status{}}
	changes := r.select_(p.Changes, st)
	r.state = state.NewUpdater(store, opts.Env, st, gen)
	rep := &Report{Env: opts.Env, Results: []Result{}, BrokeLock: lock.Broke}
	for _, stage := range stages(reg, changes) {
		res, err := r.stage(ctx, stage)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			return rep, err
		}
	}
	audit := state.AuditRecord{Who: opts.Who, Commit: opts.Commit, Env: opts.Env, Started: started}
	for _, c := range changes {
		audit.Changes = append(audit.Changes, state.AuditChange{Event: c.Event, Kind: c.Kind, Name: c.Name, Action: string(c.Action)})
	}
	for _, x := range rep.Results {
		audit.Results = append(audit.Results, state.AuditResult{Event: x.Event, Kind: x.Kind, Name: x.Name, Status: x.Status, Error: x.Error})
	}
	rec, err := state.AppendAudit(ctx, store, opts.Env, audit)
	if err != nil {
		return rep, fmt.Errorf("apply: audit: %w", err)
	}
	rep.Audit = rec.ID
	return rep, nil
}

type runner struct {
	reg     *sink.Registry
	store   blob.Store
	state   *state.Updater // the environment's resources.json, one CAS write per update
	opts    Options
	done    map[string]state.Status // "kind/name" → how it ended in earlier waves of this run
	applied int                     // resources applied one at a time, for AfterEach
}

// select_ keeps the changes this run touches: --event (with the resources those events' changes
// depend on, such as their teams' users, which belong to no event), --retry-failed.
func (r *runner) select_(cs []sink.Change, st *state.Resources) []sink.Change {
	retry := func(c sink.Change) bool {
		if !r.opts.RetryFailed {
			return true
		}
		rec, ok := st.Resources[state.ResourceKey(c.Kind, c.Name)]
		return ok && (rec.Status == state.StatusFailed || rec.Status == state.StatusSkipped || rec.Status == state.StatusPending)
	}
	keep := make([]bool, len(cs))
	if len(r.opts.Events) == 0 {
		for i, c := range cs {
			keep[i] = retry(c)
		}
	} else {
		byID := make(map[string]int, len(cs))
		for i, c := range cs {
			byID[c.ID()] = i
		}
		var need []int
		for i, c := range cs {
			if slices.Contains(r.opts.Events, c.Event) {
				need = append(need, i)
			}
		}
		seen := map[int]bool{}
		for len(need) > 0 {
			i := need[len(need)-1]
			need = need[:len(need)-1]
			if seen[i] {
				continue
			}
			seen[i] = true
			keep[i] = retry(cs[i])
			if cs[i].Desired == nil {
				continue
			}
			for _, d := range cs[i].Desired.DependsOn {
				if j, ok := byID[d]; ok {
					need = append(need, j)
				}
			}
		}
	}
	var out []sink.Change
	for i, c := range cs {
		if keep[i] {
			out = append(out, c)
		}
	}
	return out
}

// stages groups the changes into the registry's waves (sink.Registry.Waves: each kind one wave
// after the kinds it depends on), each wave a list of kinds in registry order with their
// changes: descriptors and team users first, then topics and tables, then ACLs. Kinds of one
// wave run at the same time, and a wave costs two state writes (intent, results) however many
// kinds it holds. A kind the registry does not hold goes last, where its changes fail.
func stages(reg *sink.Registry, changes []sink.Change) [][][]sink.Change {
	byKind := map[string][]sink.Change{}
	var unknown []string
	for _, c := range changes {
		if _, ok := byKind[c.Kind]; !ok && reg.Get(c.Kind) == nil {
			unknown = append(unknown, c.Kind)
		}
		byKind[c.Kind] = append(byKind[c.Kind], c)
	}
	var out [][][]sink.Change
	for _, wave := range append(reg.Waves(), unknown) {
		var kinds [][]sink.Change
		for _, kind := range wave {
			if len(byKind[kind]) > 0 {
				kinds = append(kinds, byKind[kind])
			}
		}
		if len(kinds) > 0 {
			out = append(out, kinds)
		}
	}
	return out
}

// stage applies one wave: every change of its kinds (each list one kind, in registry order),
// recording the intent of all of them before changing anything and their results after.
func (r *runner) stage(ctx context.Context, kinds [][]sink.Change) ([]Result, error) {
	var cs []sink.Change
	for _, k := range kinds {
		cs = append(cs, k...)
	}
	results := make([]Result, len(cs))
	run := make([][]int, len(kinds)) // per kind: indexes into cs of changes to execute
	base := 0
	for k, kcs := range kinds {
		for j, c := range kcs {
			i := base + j
			results[i] = Result{Event: c.Event, Kind: c.Kind, Name: c.Name, Action: c.Action}
			switch {
			case c.Action == sink.Noop:
				results[i].Status = state.StatusOK
			case (c.Action == sink.Blocked || c.Action == sink.Skipped) && c.Observed != nil && c.Observed.Err != nil:
				// Its live state could not be read (system unreachable, broker error): a failure,
				// retried by --retry-failed, whose dependents are skipped.
				results[i].Status, results[i].Error = state.StatusFailed, c.Reason
			case c.Action == sink.Blocked, c.Action == sink.Skipped:
				results[i].Status, results[i].Error = state.StatusSkipped, c.Reason
			case (c.Action == sink.Delete || c.Action == sink.Replace) && !r.opts.AllowDestroy:
				results[i].Status = state.StatusSkipped
				results[i].Error = fmt.Sprintf("%s needs --allow-destroy (it holds data)", c.Action)
			default:
				if dep := r.failedDep(c); dep != "" {
					results[i].Status, results[i].Error = state.StatusSkipped, "dependency "+dep+" did not succeed"
					continue
				}
				run[k] = append(run[k], i)
			}
		}
		base += len(kcs)
	}
	// Intent first: a crash from here on leaves pending records, which make the resources this
	// repository's on the next run (ownership) and are retried by --retry-failed.
	if slices.ContainsFunc(run, func(x []int) bool { return len(x) > 0 }) {
		err := r.state.Update(ctx, func(doc *state.Resources) error {
			now := time.Now().UTC()
			for _, idx := range run {
				for _, i := range idx {
					c := cs[i]
					rec := doc.Resources[state.ResourceKey(c.Kind, c.Name)]
					rec.Event, rec.Kind, rec.Name = c.Event, c.Kind, c.Name
					rec.Status, rec.Time, rec.Commit = state.StatusPending, now, r.opts.Commit
					doc.Resources[rec.Key()] = rec
				}
			}
			return nil
		})
		if err != nil {
			return results, fmt.Errorf("apply: record intent: %w", err)
		}
	}
	errs := r.executeKinds(ctx, cs, run)
	for k, idx := range run {
		for j, i := range idx {
			if errs[k][j] != nil {
				results[i].Status, results[i].Error = state.StatusFailed, errs[k][j].Error()
			} else {
				results[i].Status = state.StatusOK
			}
		}
	}
	for i := range results {
		r.done[state.ResourceKey(cs[i].Kind, cs[i].Name)] = results[i].Status
		if r.opts.Progress != nil {
			r.opts.Progress(results[i])
		}
	}
	facts := r.facts(ctx, cs, results)
	err := r.state.Update(ctx, func(doc *state.Resources) error {
		now := time.Now().UTC()
		changed := false
		for i, c := range cs {
			key := state.ResourceKey(c.Kind, c.Name)
			old, had := doc.Resources[key]
			res := results[i]
			switch {
			case c.Action == sink.Delete && res.Status == state.StatusOK:
				if had {
					delete(doc.Resources, key)
					changed = true
				}
				continue
			case c.Action == sink.Delete || (c.Desired != nil && c.Desired.Absent):
				if !had {
					continue
				}
			case c.Action == sink.Blocked && !had:
				continue // never recorded: nothing of it exists that evctl made
			case c.Action == sink.Noop && c.Observed != nil && !c.Observed.Exists:
				continue
			case c.Action == sink.Noop && !had && (c.Observed == nil || !c.Observed.Managed):
				// Live, unchanged and never recorded here: someone else's (the plan lets only a
				// shared team user through as a noop). Recording it would make it ours, to
				// change or delete later. One that carries evctl's mark (a published
				// descriptor: the store is evctl's) is recorded.
				continue
			}
			rec := old
			rec.Event, rec.Kind, rec.Name = c.Event, c.Kind, c.Name
			rec.Status, rec.Error, rec.Time, rec.Commit = res.Status, res.Error, now, r.opts.Commit
			if res.Status == state.StatusOK && c.Desired != nil {
				rec.Hash = c.Desired.Hash
			}
			if facts[i] != nil {
				rec.Facts = facts[i]
			}
			doc.Resources[key] = rec
			changed = true
		}
		if !changed {
			return state.ErrUnchanged
		}
		return nil
	})
	if err != nil {
		return results, fmt.Errorf("apply: record results: %w", err)
	}
	return results, nil
}

// facts returns, per change, the facts to record for a resource that ended ok and exists, for
// sinks that have them (sink.FactSource); nil where there are none, which keeps the recorded
// ones. An unchanged resource's facts come from the plan's observation; the changed ones are
// read again, one batched Observe per kind, so the facts describe the resource as it is now. A
// failed read only loses the refresh: the change itself succeeded.
func (r *runner) facts(ctx context.Context, cs []sink.Change, results []Result) []map[string]string {
	out := make([]map[string]string, len(cs))
	reread := map[string][]int{} // kind → indexes of changed resources to read again
	for i, c := range cs {
		if results[i].Status != state.StatusOK || c.Desired == nil || c.Desired.Absent || c.Action == sink.Delete {
			continue
		}
		fs, ok := r.reg.Get(c.Kind).(sink.FactSource)
		if !ok {
			continue
		}
		if c.Action == sink.Noop {
			if c.Observed != nil && c.Observed.Exists {
				out[i] = fs.Facts(*c.Observed)
			}
			continue
		}
		reread[c.Kind] = append(reread[c.Kind], i)
	}
	for kind, idx := range reread {
		s := r.reg.Get(kind)
		want := make([]sink.Desired, len(idx))
		for k, i := range idx {
			want[k] = *cs[i].Desired
		}
		have, err := s.Observe(ctx, want)
		if err != nil {
			continue
		}
		byName := make(map[string]sink.Observed, len(have)) // sinks fold repeated names into one
		for _, o := range have {
			byName[o.Name] = o
		}
		for _, i := range idx {
			if o, ok := byName[cs[i].Name]; ok && o.Err == nil && o.Exists {
				out[i] = s.(sink.FactSource).Facts(o)
			}
		}
	}
	return out
}

// failedDep returns the first dependency of c that did not end ok in this run, or "".
func (r *runner) failedDep(c sink.Change) string {
	if c.Desired == nil {
		return ""
	}
	for _, d := range c.Desired.DependsOn {
		if st, ok := r.done[d]; ok && st != state.StatusOK {
			return d
		}
	}
	return ""
}

// executeKinds runs the selected changes of each kind of a wave, the kinds concurrently unless
// the run is one resource at a time. It returns one error per selected change, by kind.
func (r *runner) executeKinds(ctx context.Context, cs []sink.Change, run [][]int) [][]error {
	errs := make([][]error, len(run))
	if r.oneAtATime() {
		for k, idx := range run {
			errs[k] = r.execute(ctx, cs, idx)
		}
		return errs
	}
	var wg sync.WaitGroup
	for k, idx := range run {
		wg.Go(func() { errs[k] = r.execute(ctx, cs, idx) })
	}
	wg.Wait()
	return errs
}

// oneAtATime reports whether changes are applied one resource at a time: the --parallelism 1
// baseline, and AfterEach, which counts resources.
func (r *runner) oneAtATime() bool { return r.opts.Parallelism == 1 || r.opts.AfterEach != nil }

// execute runs the selected changes of one kind: as one batch when the sink batches and
// parallelism allows, else one at a time. It returns one error per selected change.
func (r *runner) execute(ctx context.Context, cs []sink.Change, run []int) []error {
	errs := make([]error, len(run))
	if len(run) == 0 {
		return errs
	}
	s := r.reg.Get(cs[run[0]].Kind)
	if s == nil {
		for k := range errs {
			errs[k] = errors.New("apply: no sink for " + cs[run[0]].Kind)
		}
		return errs
	}
	batch := make([]sink.Change, len(run))
	for k, i := range run {
		batch[k] = cs[i]
	}
	if b, ok := s.(sink.BatchApplier); ok && !r.oneAtATime() {
		out := b.ApplyBatch(ctx, batch)
		copy(errs, out)
		return errs
	}
	for k, c := range batch {
		errs[k] = s.Apply(ctx, c)
		r.applied++
		if r.opts.AfterEach != nil {
			r.opts.AfterEach(r.applied)
		}
	}
	return errs
}

// SortResults orders results like plans.
func SortResults(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Event != rs[j].Event {
			return rs[i].Event < rs[j].Event
		}
		return rs[i].Kind < rs[j].Kind
	})
}
