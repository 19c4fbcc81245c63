package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/blob"
)

// SavedFormat names the layout of a saved plan file; ReadSaved refuses any other.
const SavedFormat = "evctl-plan/1"

// Saved is a plan written by `evctl plan --out FILE` for a later `evctl apply FILE`. It holds
// what the plan was computed against (the state generation, the git commit) and a hash of its
// changes, so the apply can prove that what it would do now is exactly what was reviewed.
type Saved struct {
	Format string `json:"format"`
	Env    string `json:"env"`
	// StateGeneration is the generation of the environment's resources.json the plan saw ("" for
	// none yet). Any apply since moves it.
	StateGeneration blob.Gen  `json:"state_generation"`
	Commit          string    `json:"commit,omitempty"`
	Created         time.Time `json:"created"`
	// ChangesHash is ChangesHash of Plan.
	ChangesHash string `json:"changes_hash"`
	// Refresh is how much of the live systems the plan read ("" in files written before there
	// was a choice: full); `evctl apply FILE` plans again the same way to check it still holds.
	Refresh Refresh `json:"refresh,omitempty"`
	Plan    *Plan   `json:"plan"`
}

// NewSaved wraps p for saving.
func NewSaved(p *Plan, gen blob.Gen, commit string, now time.Time) *Saved {
	return &Saved{Format: SavedFormat, Env: p.Env, StateGeneration: gen, Commit: commit, Created: now.UTC(),
		ChangesHash: ChangesHash(p), Plan: p}
}

// Marshal is the file's content: indented JSON, so a reviewer can read it.
func (s *Saved) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("plan: save: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadSaved parses a saved plan file. Anything that is not a complete plan of this format is an
// error saying what is wrong; it never panics.
func ReadSaved(data []byte) (*Saved, error) {
	var s Saved
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("plan: not a saved plan: %w", err)
	}
	switch {
	case s.Format != SavedFormat:
		return nil, fmt.Errorf("plan: saved plan format %q, want %q (written by another evctl?)", s.Format, SavedFormat)
	case s.Env == "" || s.Plan == nil || s.ChangesHash == "":
		return nil, errors.New("plan: saved plan lacks its environment, plan or changes hash")
	case s.Plan.Env != s.Env:
		return nil, fmt.Errorf("plan: saved plan is for %q but holds a plan for %q", s.Env, s.Plan.Env)
	case ChangesHash(s.Plan) != s.ChangesHash:
		return nil, errors.New("plan: saved plan was edited after it was written (its changes do not match its hash)")
	}
	return &s, nil
}

// hashedChange is what of a change its hash covers: what will be done to which resource, with
// which content. Reasons are prose and are left out.
type hashedChange struct {
	Event  string           `json:"event"`
	Kind   string           `json:"kind"`
	Name   string           `json:"name"`
	Action sink.Action      `json:"action"`
	Diff   []sink.DiffEntry `json:"diff"`
}

// ChangesHash is the sha256 of p's changes, in a stable order.
func ChangesHash(p *Plan) string {
	hs := make([]hashedChange, 0, len(p.Changes))
	for _, c := range p.Changes {
		hs = append(hs, hashedChange{c.Event, c.Kind, c.Name, c.Action, c.Diff})
	}
	slices.SortFunc(hs, func(a, b hashedChange) int { return strings.Compare(a.Kind+"/"+a.Name, b.Kind+"/"+b.Name) })
	b, _ := json.Marshal(hs) // plain strings and slices: cannot fail
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Differences names the resources whose change differs between a saved plan and now (at most
// limit, then how many more), for the message that refuses a stale saved plan.
func Differences(saved, now *Plan, limit int) []string {
	key := func(c sink.Change) string {
		b, _ := json.Marshal(hashedChange{c.Event, c.Kind, c.Name, c.Action, c.Diff})
		return string(b)
	}
	was := map[string]sink.Change{}
	for _, c := range saved.Changes {
		was[c.ID()] = c
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range now.Changes {
		seen[c.ID()] = true
		w, ok := was[c.ID()]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: not in the saved plan, now %s", c.ID(), c.Action))
		case key(w) != key(c) && w.Action == c.Action:
			out = append(out, fmt.Sprintf("%s: %s with a different diff", c.ID(), c.Action))
		case key(w) != key(c):
			out = append(out, fmt.Sprintf("%s: saved %s, now %s", c.ID(), w.Action, c.Action))
		}
	}
	for _, c := range saved.Changes {
		if !seen[c.ID()] {
			out = append(out, fmt.Sprintf("%s: in the saved plan, no longer planned", c.ID()))
		}
	}
	slices.Sort(out)
	if len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("and %d more", len(out)-limit))
	}
	return out
}
