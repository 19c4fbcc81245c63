package breaking

import (
	"context"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/storage/blob"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// Baseline is what the current contracts are compared against: the contracts at a git ref, a
// FileDescriptorSet, or an environment's descriptor store. Close it when done.
type Baseline struct {
	// Name says what it is, for messages: "git HEAD~1", "file base.binpb", "env prod".
	Name string
	// Env is the environment name for env: baselines (topics are compared to tell a major bump).
	Env  string
	side *side
	tmp  string // extracted git tree, removed by Close
	// closeStore closes the descriptor store a lazily read env: baseline reads from.
	closeStore func() error
	// scope, for git baselines, holds the root-relative files that differ from the work tree;
	// nil means any contract may differ.
	scope map[string]bool
}

// Close removes what the baseline extracted to disk. It is safe to call on a nil Baseline.
func (b *Baseline) Close() error {
	if b != nil && b.closeStore != nil {
		_ = b.closeStore() // reads only
		b.closeStore = nil
	}
	if b == nil || b.tmp == "" {
		return nil
	}
	err := os.RemoveAll(b.tmp)
	b.tmp = ""
	if err != nil {
		return fmt.Errorf("breaking: remove baseline tree: %w", err)
	}
	return nil
}

// Events returns the IDs of the baseline's events.
func (b *Baseline) Events() []string {
	out := make([]string, 0, len(b.side.events))
	for id := range b.side.events {
		out = append(out, id)
	}
	return out
}

// FromWorkspace uses a loaded contracts repository as the baseline (the contracts at a git ref
// are loaded this way). compiled may be nil: only the events Check needs are compiled.
func FromWorkspace(name string, ws *workspace.Workspace, compiled *compile.Result) *Baseline {
	return &Baseline{Name: name, side: newWorkspaceSide(ws, compiled)}
}

// FromFile reads a FileDescriptorSet (as `evctl build` writes it) from path.
func FromFile(path string) (*Baseline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("breaking: read baseline: %w", err)
	}
	return FromDescriptorSet("file "+path, b)
}

// FromDescriptorSet reads a binary FileDescriptorSet. Events are the messages that carry evctl's
// event option; their stage is the event_stage option. Their major is unknown, so an event whose
// message full name changed counts as a major bump.
func FromDescriptorSet(name string, data []byte) (*Baseline, error) {
	s := &side{events: map[string]*event{}}
	if err := addSet(s, data, nil); err != nil {
		return nil, fmt.Errorf("breaking: baseline %s: %w", name, err)
	}
	return &Baseline{Name: name, side: s}, nil
}

// addSet reads a set and adds its events: their descriptors are built when compared (load).
// When only is non-nil, just those messages (full name → event ID) are taken.
func addSet(s *side, data []byte, only map[string]string) error {
	rs, err := scanSet(data)
	if err != nil {
		return err
	}
	for _, p := range rs.order {
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(rs.files[p], fdp); err != nil {
			return fmt.Errorf("not a FileDescriptorSet: %s: %w", p, err)
		}
		for _, m := range fdp.GetMessageType() {
			full := m.GetName()
			if pkg := fdp.GetPackage(); pkg != "" {
				full = pkg + "." + full
			}
			id, stage := evoptions.MessageOptionsEvent(m.GetOptions())
			if only != nil {
				id = only[full]
			}
			if id == "" {
				continue
			}
			if prev := s.events[id]; prev != nil && prev.stage != "" {
				stage = prev.stage
			}
			e := &event{id: id, stage: stage, raw: rs, path: p, msgName: full}
			if prev := s.events[id]; prev != nil {
				e.topic = prev.topic
			}
			s.events[id] = e
		}
	}
	return nil
}

// FromEnv reads the descriptor store of environment env: its index.json, and the sets it names
// when they are compared (a chunk at a time, each dropped once compared: 10,000 events' sets
// weigh about 800 MB). A store with no index.json yet is an empty baseline (nothing was
// published). Relative file:// URLs are relative to the repository root. Close the baseline:
// the store stays open until then.
func FromEnv(ctx context.Context, p *config.Project, env string) (*Baseline, error) {
	e, err := p.Env(env)
	if err != nil {
		return nil, err
	}
	if e.Descriptors.URL == "" {
		return nil, fmt.Errorf("breaking: environment %q has no descriptors.url in %s", env, config.FileName)
	}
	st, err := blob.OpenIn(ctx, p.Root, e.Descriptors.URL)
	if err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	idx, _, err := descstore.ReadIndex(ctx, st)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("breaking: baseline env %s: %w", env, err)
	}
	name := "env " + env
	b := &Baseline{Name: name, Env: env, side: &side{events: map[string]*event{}}, closeStore: st.Close}
	b.side.fetch = func(sha string) ([]byte, error) {
		set, err := descstore.ReadSet(ctx, st, sha)
		if err != nil {
			return nil, fmt.Errorf("baseline %s: %w", name, err)
		}
		return set, nil
	}
	for id, ent := range idx.Events {
		b.side.events[id] = &event{id: id, stage: ent.Stage, topic: ent.Topic, msgName: ent.Message, sha: ent.SHA256}
	}
	return b, nil
}

// FromPublished is the baseline of what a descriptor store holds (descstore.ReadBaseline): the
// events of pub's index whose sets pub read, with the stage and topic the index recorded. env
// names the environment (topics are compared to tell a major bump), name is for messages.
func FromPublished(name, env string, pub *descstore.Baseline) (*Baseline, error) {
	b := &Baseline{Name: name, Env: env, side: &side{events: map[string]*event{}}}
	bySet := map[string]map[string]string{} // sha256 → message → event
	for id, ent := range pub.Index.Events {
		if _, ok := pub.Sets[ent.SHA256]; !ok {
			continue
		}
		if bySet[ent.SHA256] == nil {
			bySet[ent.SHA256] = map[string]string{}
		}
		bySet[ent.SHA256][ent.Message] = id
		b.side.events[id] = &event{id: id, stage: ent.Stage, topic: ent.Topic}
	}
	for sum, only := range bySet {
		if err := addSet(b.side, pub.Sets[sum], only); err != nil {
			return nil, fmt.Errorf("breaking: baseline %s: %s: %w", name, descstore.SetKey(sum), err)
		}
	}
	for id, e := range b.side.events {
		if e.raw == nil {
			return nil, fmt.Errorf("breaking: baseline %s: %s names %s but its set has no such message", name, descstore.IndexKey, id)
		}
	}
	return b, nil
}

// registryOf returns a resolver holding f's imports, to rebuild a rewritten f.
func registryOf(f protoreflect.FileDescriptor) *protoregistry.Files {
	r := &protoregistry.Files{}
	for _, dep := range closure([]protoreflect.FileDescriptor{f}) {
		if dep.Path() != f.Path() {
			_ = r.RegisterFile(dep) // a duplicate is the same file reached twice
		}
	}
	return r
}
