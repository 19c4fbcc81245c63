package sink

import (
	"context"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Action is what the plan will do to one resource. The strings are public API (plan -o json).
type Action string

// The actions of SPEC section 4.
const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	Noop    Action = "noop"
	Blocked Action = "blocked"
	Skipped Action = "skipped"
)

// Desired is one resource as the repository wants it in one environment.
type Desired struct {
	Event string // "feed/video_played"
	Kind  string // "kafka_topic"
	Name  string // the live name, e.g. "local.feed.video_played.v1"
	Stage string // "staging" or "prod": prod resources are never replaced, only blocked
	// Spec is the kind-specific wanted shape (for example kafka.TopicSpec). Sinks type-assert it.
	Spec any
	// Hash is a content hash of Spec, recorded in state so a later plan can tell
	// "changed in the repo" from "changed by hand".
	Hash string
	// Absent marks a resource evctl created earlier (it is in state) whose event or sink has since
	// been removed from the repository: the sink observes it and Diff proposes a delete.
	Absent bool
	// DependsOn names other resources ("kind/name") that must be applied first.
	DependsOn []string
}

// Observed is one resource as it is live.
type Observed struct {
	Kind   string
	Name   string
	Exists bool
	Spec   any // the kind-specific live shape, nil when !Exists
	// Managed reports whether the live resource carries evctl's ownership mark, where the system
	// has a place for one (BigQuery labels, Delta table configuration). Systems with no such place
	// (Kafka topics) leave it false and ownership comes from state alone.
	Managed bool
	// Err is set when this one resource could not be read; the others still could.
	Err error
}

// DiffEntry is one changed attribute; Path is dotted (configs.retention.ms).
type DiffEntry struct {
	Path string `json:"path"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Change is what the plan proposes for one resource.
type Change struct {
	Event  string      `json:"event"`
	Kind   string      `json:"kind"`
	Name   string      `json:"name"`
	Action Action      `json:"action"`
	Diff   []DiffEntry `json:"diff"`
	Reason string      `json:"reason"`

	Desired  *Desired  `json:"-"`
	Observed *Observed `json:"-"`
}

// ID is the resource's identity inside one environment: "kind/name".
func (c Change) ID() string { return c.Kind + "/" + c.Name }

// Def is a resource kind's half that needs no connection: what it wants and what it needs
// first. A kind whose system cannot be reached still plans its resources (as failed or skipped),
// so its Def works without a client.
type Def interface {
	// Kind is the kind's name in plans, state and JSON output ("kafka_topic").
	Kind() string
	// DependsOn names the kinds whose resources this kind's resources may depend on
	// (Desired.DependsOn names only resources of these kinds). Apply waves come from it.
	DependsOn() []string
	// Desire builds every wanted resource of the kind in t's environment, from the compiled
	// contracts; no I/O. The error is for a contract the kind cannot express.
	Desire(t *Target) ([]Desired, error)
}

// Sink is one resource kind with its connection. Observe and Apply do I/O; Diff is pure.
//
// Observe is read-only and batched: one call for every wanted resource of the kind. A failure to
// reach the system at all is the returned error; a failure for one resource is that Observed's Err.
// Apply executes one change whose Action is create, update, replace or delete; it must be safe to
// repeat after a crash (creating what already exists as wanted is success, not an error).
type Sink interface {
	Def
	Observe(ctx context.Context, want []Desired) ([]Observed, error)
	Diff(want []Desired, have []Observed) ([]Change, error)
	Apply(ctx context.Context, c Change) error
}

// BatchApplier is implemented by sinks that can apply many changes in one request (Kafka admin
// calls take many topics at once). The result has one error (or nil) per change, in order.
type BatchApplier interface {
	ApplyBatch(ctx context.Context, cs []Change) []error
}

// FactSource is implemented by sinks whose resources have facts worth keeping for describe and
// status (a table's id, location, version, schema hash). The apply engine reads the resources it
// changed once more, batched, and records o's facts in state, so they describe what is live after
// the change rather than before it.
type FactSource interface {
	Facts(o Observed) map[string]string
}

// Lister is implemented by sinks that can list the live resources under the names the kind
// gives in t's environment (topics under "local."), so the planner can report the ones evctl
// does not own (unmanaged). No names to list under is an empty list.
type Lister interface {
	ListManaged(ctx context.Context, t *Target) ([]string, error)
}

// SortChanges orders changes by event, then kind, then name, so output is stable.
func SortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Event != cs[j].Event {
			return cs[i].Event < cs[j].Event
		}
		if cs[i].Kind != cs[j].Kind {
			return cs[i].Kind < cs[j].Kind
		}
		return cs[i].Name < cs[j].Name
	})
}

// Namer is implemented by kinds that can name an event's resources from its contract alone,
// without compiling or connecting (describe lists them). env is the environment, or "" for
// names in no environment in particular (EnvOrPlaceholder). An event the kind has nothing for
// has no names.
type Namer interface {
	Names(p *config.Project, env string, ev *contract.Event) []string
}

// EnvOrPlaceholder is env, or "{env}" when env is "": how names read when no environment is
// chosen.
func EnvOrPlaceholder(env string) string {
	if env == "" {
		return "{env}"
	}
	return env
}
