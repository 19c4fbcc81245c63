// Package adopt brings one existing resource (a topic, an ACL, a table made by hand or by another
// tool) under this repository's evctl state: `evctl import`. It plans just that resource against
// its contract, reports the diff and the action the next plan will propose once it is owned, and
// records it in the environment's state as owned, with the hash of the live resource, so the
// next plan is an update or a noop instead of blocked (SPEC-dataplane 13). Nothing live is
// changed: adopting is a state write, like `terraform import`.
package adopt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
)

// Request names the resource to adopt.
type Request struct {
	Kind   string // "kafka_topic"
	Name   string // the live name, e.g. "prod.feed.video_played.v1"
	Event  string // the event whose contract wants it, "feed/video_played"
	DryRun bool   // report only; the state is not touched
	Who    string // for the lock
	Commit string // recorded with the resource, as apply does
}

// Result is what adopting the resource found and did.
type Result struct {
	Env   string `json:"env"`
	Event string `json:"event"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	// Diff is the live resource against its contract; empty when they agree.
	Diff []sink.DiffEntry `json:"diff"`
	// Next is the action the next plan proposes once the resource is owned: noop when live
	// matches the contract, update (or replace) otherwise, blocked when even its owner may not
	// make the change (Reason says why).
	Next   sink.Action `json:"next"`
	Reason string      `json:"reason,omitempty"`
	// Hash is the live resource's hash, recorded in state: the contract's hash when live
	// matches it, so a later hand edit shows as drift.
	Hash string `json:"hash"`
	// Recorded reports that the state now records the resource; false on a dry run and when it
	// was recorded already (Already).
	Recorded bool `json:"recorded"`
	Already  bool `json:"already_owned"`
	DryRun   bool `json:"dry_run"`
}

// Error is a request that cannot be adopted (unknown kind, name or event; nothing live): the
// caller's mistake, not an outage.
type Error struct{ Msg string }

func (e *Error) Error() string { return "import: " + e.Msg }

func userErr(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Import adopts req's resource into run's environment. run is a prepared plan (envplan.Prepare,
// or envplan.PrepareCached reading every resource, whose workspace holds no events: the event is
// then looked for among those the environment hosts):
// the resource must be one the contracts want there, and must exist live.
func Import(ctx context.Context, run *envplan.Run, req Request) (*Result, error) {
	env := run.Target.Env
	reg := run.Conn.Registry
	if !slices.Contains(reg.Kinds(), req.Kind) {
		return nil, userErr("unknown kind %q (kinds: %s)", req.Kind, strings.Join(reg.Kinds(), ", "))
	}
	if run.Workspace.Event(req.Event) == nil && !slices.ContainsFunc(run.Target.Events, func(ev *contract.Event) bool { return ev.ID() == req.Event }) {
		return nil, userErr("no event %q in this repository (use <domain>/<event>)", req.Event)
	}
	var planned *sink.Change
	var names []string
	for i := range run.Plan.Changes {
		c := &run.Plan.Changes[i]
		if c.Kind != req.Kind || c.Event != req.Event {
			continue
		}
		names = append(names, c.Name)
		if c.Name == req.Name {
			planned = c
		}
	}
	if planned == nil || planned.Desired == nil || planned.Desired.Absent {
		if len(names) == 0 {
			return nil, userErr("event %s wants no %s in %s", req.Event, req.Kind, env)
		}
		return nil, userErr("event %s wants no %s named %q in %s (it wants: %s)", req.Event, req.Kind, req.Name, env, strings.Join(names, ", "))
	}
	if o := planned.Observed; o != nil && o.Err != nil {
		return nil, fmt.Errorf("import: read %s %s: %w", req.Kind, req.Name, o.Err)
	}
	if planned.Observed == nil || !planned.Observed.Exists {
		return nil, userErr("%s %s does not exist in %s: nothing to adopt (evctl apply creates it)", req.Kind, req.Name, env)
	}
	res := &Result{Env: env, Event: req.Event, Kind: req.Kind, Name: req.Name, DryRun: req.DryRun}
	_, res.Already = run.State.Resources[state.ResourceKey(req.Kind, req.Name)]

	// Plan just this resource as if it were owned: the sink's diff, then its ownership rules
	// with Recorded set (what the next plan will apply once the state records it).
	s := reg.Get(req.Kind)
	changes, err := s.Diff([]sink.Desired{*planned.Desired}, []sink.Observed{*planned.Observed})
	if err != nil {
		return nil, fmt.Errorf("import: diff %s %s: %w", req.Kind, req.Name, err)
	}
	if len(changes) != 1 {
		return nil, fmt.Errorf("import: diff %s %s: %d changes, want 1", req.Kind, req.Name, len(changes))
	}
	c := changes[0]
	owns := func(kind, name string) bool {
		if kind == req.Kind && name == req.Name {
			return true
		}
		_, rec := run.State.Resources[state.ResourceKey(kind, name)]
		return rec
	}
	sink.Own(s, &c, sink.Ownership{Recorded: true, Owns: owns})
	res.Diff, res.Next, res.Reason = c.Diff, c.Action, c.Reason
	if res.Diff == nil {
		res.Diff = []sink.DiffEntry{}
	}
	res.Hash = planned.Desired.Hash
	if len(c.Diff) > 0 {
		if res.Hash, err = liveHash(planned.Observed.Spec); err != nil {
			return nil, fmt.Errorf("import: %s %s: %w", req.Kind, req.Name, err)
		}
	}
	if req.DryRun || res.Already {
		return res, nil
	}
	if err := record(ctx, run, req, res.Hash); err != nil {
		return nil, err
	}
	res.Recorded = true
	return res, nil
}

// record writes the resource into the state under the environment's lock, so it cannot
// interleave with an apply.
func record(ctx context.Context, run *envplan.Run, req Request, hash string) error {
	env := run.Target.Env
	lock, err := state.Acquire(ctx, run.Conn.State, env, state.LockOptions{Holder: req.Who, Operation: "import"})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer lock.Release(context.WithoutCancel(ctx)) //nolint:errcheck // a lock left behind is reported by the next run
	err = state.Update(ctx, run.Conn.State, env, func(doc *state.Resources) error {
		key := state.ResourceKey(req.Kind, req.Name)
		if _, ok := doc.Resources[key]; ok {
			return state.ErrUnchanged // recorded meanwhile (an apply or another import)
		}
		doc.Resources[key] = state.Record{
			Event: req.Event, Kind: req.Kind, Name: req.Name, Status: state.StatusOK,
			Time: time.Now().UTC(), Commit: req.Commit, Hash: hash,
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import: record %s %s: %w", req.Kind, req.Name, err)
	}
	return nil
}

// liveHash is a content hash of the live spec, recorded for a resource whose live shape differs
// from its contract: it never equals the contract's hash, so the next plan shows the update as
// a change in the repo, not as drift.
func liveHash(spec any) (string, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return "", errors.New("cannot hash the live spec")
	}
	sum := sha256.Sum256(b)
	return "live:" + hex.EncodeToString(sum[:]), nil
}
