// Package workspace opens a contracts repository: evctl.yaml plus every event under contracts/,
// and produces each event's effective contract (protogen) for the compiler. It is the one place
// that knows the repository layout on disk; it does no checking beyond what loading needs.
package workspace

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/protogen"
)

// GenDir is where `evctl generate` writes effective contracts.
const GenDir = "gen/proto"

// Workspace is a loaded contracts repository.
type Workspace struct {
	Project *config.Project
	Events  []*contract.Event // sorted by ID
	// Consumers are consumers/<name>.yaml, in file order (SPEC-dataplane 11).
	Consumers []*consumer.Consumer
	// Diags are the problems found while loading (YAML, layout, evctl.yaml).
	Diags diag.List
}

// Open finds evctl.yaml (explicit, or upward from dir) and loads the repository.
func Open(explicit, dir string) (*Workspace, error) { return open(explicit, dir, contract.LoadAll) }

// OpenReleased is Open with every event's YAML tree released once decoded
// (contract.LoadAllReleased), for commands that read the contracts without checking them all
// (list, describe, catalog, export...): on 10,000 events `evctl list` peaks at 0.4 GB instead
// of 1.0 GB.
// Positions still resolve, each by parsing its file again; lint.Check works on it too, but
// parses every file a second time.
func OpenReleased(explicit, dir string) (*Workspace, error) {
	return open(explicit, dir, contract.LoadAllReleased)
}

func open(explicit, dir string, load func(root string) ([]*contract.Event, diag.List)) (*Workspace, error) {
	path, err := config.Find(explicit, dir)
	if err != nil {
		return nil, err
	}
	p, diags, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	events, ds := load(p.Root)
	diags.Add(ds...)
	sort.SliceStable(events, func(i, j int) bool { return events[i].ID() < events[j].ID() })
	consumers, ds := consumer.LoadAll(p.Root)
	diags.Add(ds...)
	return &Workspace{Project: p, Events: events, Consumers: consumers, Diags: diags}, nil
}

// Root is the repository root.
func (w *Workspace) Root() string { return w.Project.Root }

// Event returns the event with the given ID ("feed/video_played") or bare name, or nil.
func (w *Workspace) Event(id string) *contract.Event {
	for _, ev := range w.Events {
		if ev.ID() == id || ev.File == id {
			return ev
		}
	}
	var found *contract.Event
	for _, ev := range w.Events {
		if ev.Name == id {
			if found != nil {
				return nil // ambiguous: the caller must use domain/event
			}
			found = ev
		}
	}
	return found
}

// Effective builds the effective contract of one event.
func (w *Workspace) Effective(ev *contract.Event) (*protogen.Output, diag.List) {
	return w.effective(ev, protogen.Form, protogen.Raw)
}

// EffectiveParsed is Effective for a caller that compiles the contract next and lets it go
// (lint's incremental check, a batch at a time): the contract comes back parsed, so that the
// compiler does not parse it again: a raw contract is parsed once rather than twice
// (protogen.RawParsed), a form contract's tree is built as its text is written
// (protogen.FormParsed). Callers that keep every event's output at once keep to Effective: a
// parsed file weighs several times its source.
func (w *Workspace) EffectiveParsed(ev *contract.Event) (*protogen.Output, diag.List) {
	return w.effective(ev, protogen.FormParsed, protogen.RawParsed)
}

func (w *Workspace) effective(ev *contract.Event, form func(*config.Project, *contract.Event) *protogen.Output, raw func(*config.Project, *contract.Event, string, []byte) (*protogen.Output, diag.List)) (*protogen.Output, diag.List) {
	if ev.Schema.Proto == nil {
		return form(w.Project, ev), nil
	}
	rawFile, d := protogen.RawPath(ev)
	if d != nil {
		return nil, diag.List{*d}
	}
	src, err := contract.ReadInside(w.Root(), filepath.Join(w.Root(), filepath.FromSlash(rawFile)))
	if err != nil {
		return nil, diag.List{diag.Errorf(ev.Pos("schema.proto.file"), protogen.RuleProtoMissing,
			"cannot read %s: %v", rawFile, errText(err))}
	}
	return raw(w.Project, ev, rawFile, src)
}

func errText(err error) string {
	if os.IsNotExist(err) {
		return "no such file"
	}
	return fmt.Sprint(err)
}

// GenPath is the repository path of an event's generated file.
func GenPath(o *protogen.Output) string { return GenDir + "/" + o.Path }
