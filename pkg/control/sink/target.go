package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Target is what kinds build their wanted resources from: one environment of a compiled
// repository.
type Target struct {
	Env     string
	Config  config.Environment
	Project *config.Project
	// Events are the events the environment hosts (their stage is in its stages), sorted by ID,
	// each compiled.
	Events   []*contract.Event
	Compiled *compile.Result
	// Consumers are the repository's consumers/<name>.yaml (SPEC-dataplane 11), all of them:
	// a kind keeps those reading an event the environment hosts (HostedEvent).
	Consumers []*consumer.Consumer
}

// HostedEvent returns the hosted event with the given ID, or nil.
func (t *Target) HostedEvent(id string) *contract.Event {
	i := sort.Search(len(t.Events), func(i int) bool { return t.Events[i].ID() >= id })
	if i < len(t.Events) && t.Events[i].ID() == id {
		return t.Events[i]
	}
	return nil
}

// ReaderTeams are the teams that read a hosted event through Kafka: its access.consumers and
// the owner teams of the consumers (consumers/*.yaml) that list it, sorted, without repeats.
// The topic's READ ACLs and the teams' users come from it.
func (t *Target) ReaderTeams(ev *contract.Event) []string {
	teams := slices.Clone(ev.Access.Consumers)
	for _, c := range t.Consumers {
		if c.Owner.Team != "" && slices.Contains(c.Events, ev.ID()) {
			teams = append(teams, c.Owner.Team)
		}
	}
	slices.Sort(teams)
	return slices.Compact(teams)
}

// NewTarget selects the events env hosts. Every one of them must have compiled.
func NewTarget(p *config.Project, env string, events []*contract.Event, compiled *compile.Result) (*Target, error) {
	cfg, err := p.Env(env)
	if err != nil {
		return nil, err
	}
	t := &Target{Env: env, Config: cfg, Project: p, Compiled: compiled}
	for _, ev := range events {
		if !cfg.Hosts(ev.Stage) {
			continue
		}
		if _, ok := compiled.Files[ev.ID()]; !ok {
			return nil, fmt.Errorf("plan: %s did not compile; run `evctl lint`", ev.ID())
		}
		t.Events = append(t.Events, ev)
	}
	sort.Slice(t.Events, func(i, j int) bool { return t.Events[i].ID() < t.Events[j].ID() })
	return t, nil
}

// Message returns the compiled message of one of t's events; its absence is a contract error
// lint reports.
func (t *Target) Message(ev *contract.Event) (protoreflect.MessageDescriptor, error) {
	if md := t.Compiled.Messages[ev.ID()]; md != nil {
		return md, nil
	}
	return nil, fmt.Errorf("plan: %s: no compiled message; run `evctl lint`", ev.ID())
}

// NewDesired is a wanted resource with its content hash.
func NewDesired(event, kind, name, stage string, spec any, deps []string) Desired {
	return Desired{Event: event, Kind: kind, Name: name, Stage: stage, Spec: spec, Hash: Hash(spec), DependsOn: deps}
}

// Ref names a resource in Desired.DependsOn and in apply's bookkeeping: "kind/name".
func Ref(kind, name string) string { return kind + "/" + name }

// Hash is the content hash of a spec (its JSON form; secrets are never in specs).
func Hash(spec any) string {
	b, err := json.Marshal(spec)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}
