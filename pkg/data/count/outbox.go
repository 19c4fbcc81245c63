package count

import (
	"encoding/json"
	"fmt"

	"github.com/evctl/evctl/pkg/data/counterstore"
)

// outbox is what a store write keeps with the partition's fence (JSON): the windows still open
// at the fence, so a restart resumes them instead of re-reading their records, and what the
// write closed, so the changelog and milestone records that follow it can be redone after a
// crash. Marks are the milestones topic's end offsets taken before the write: every milestone
// record of this write is at or after them, which bounds the search for ones already produced.
type outbox struct {
	At     int64           `json:"at"` // when the write was made (Unix ms): reached_at
	Open   []OpenWindow    `json:"open,omitempty"`
	Closed []closedWindow  `json:"closed,omitempty"`
	Marks  map[int32]int64 `json:"marks,omitempty"`
}

type closedWindow struct {
	Counter string `json:"c"`
	Key     string `json:"k"`
	Delta   int64  `json:"d"`
}

func decodeOutbox(b []byte) (outbox, error) {
	var o outbox
	if len(b) == 0 {
		return o, nil
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return outbox{}, fmt.Errorf("count: the store's outbox is not readable: %w", err)
	}
	return o, nil
}

// changes rebuilds the write's changes from its closed windows and the values the store kept.
// A mismatch (a store written by something else) yields none: the records are then not redone,
// which is logged by the caller.
func (o outbox) changes(f counterstore.Fence) ([]counterstore.Change, bool) {
	if len(o.Closed) != len(f.Values) {
		return nil, false
	}
	out := make([]counterstore.Change, len(o.Closed))
	for i, c := range o.Closed {
		out[i] = counterstore.Change{Counter: c.Counter, Key: c.Key, Old: f.Values[i] - c.Delta, New: f.Values[i]}
	}
	return out, true
}
