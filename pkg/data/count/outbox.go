package count

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

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
	// Events and Writes are the partition's running totals (records counted, once per counter;
	// key writes), kept with the fence so they survive restarts and rebalances exactly:
	// describe shows the write reduction from them.
	Events int64 `json:"events,omitempty"`
	Writes int64 `json:"writes,omitempty"`
	// Src is, for a repartition topic's partition, the highest source offset counted from each
	// source partition (repartition.go).
	Src map[int32]int64 `json:"src,omitempty"`
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
		old := f.Values[i] - c.Delta
		peak := old
		if i < len(f.Peaks) && f.Peaks[i] != counterstore.NoPeak {
			peak = f.Peaks[i]
		}
		out[i] = counterstore.Change{Counter: c.Counter, Key: c.Key, Old: old, New: f.Values[i], Peak: peak}
	}
	return out, true
}

// Totals are a source topic's running totals as the store's fences hold them.
type Totals struct {
	// Counted is the records counted (once per counter they add to) up to the fences.
	Counted int64 `json:"counted"`
	// KeyWrites is the store increments written: one per key per window.
	KeyWrites int64 `json:"key_writes"`
	// OpenWindows is the windows open at the fences (counted, not yet written).
	OpenWindows int `json:"open_windows"`
	// Fenced is the partitions with a fence.
	Fenced int `json:"fenced_partitions"`
}

// Reduction is records counted per key write (0 before the first write).
func (t Totals) Reduction() float64 {
	if t.KeyWrites == 0 {
		return 0
	}
	return float64(t.Counted) / float64(t.KeyWrites)
}

// ReadTotals reads the totals of the topics' partitions from the fences the env's count workers
// keep: an event's topic and its counters' repartition topics (which have as many partitions), so
// a repartitioned counter's records are counted where they were counted, once.
func ReadTotals(ctx context.Context, store counterstore.Store, env string, topics []string, partitions []int32) (Totals, error) {
	var t Totals
	for _, topic := range topics {
		for _, p := range partitions {
			if err := t.add(ctx, store, Group(env)+"/"+topic+"/"+strconv.Itoa(int(p))); err != nil {
				return Totals{}, err
			}
		}
	}
	return t, nil
}

func (t *Totals) add(ctx context.Context, store counterstore.Store, scope string) error {
	f, err := store.Fence(ctx, scope)
	if err != nil {
		return err
	}
	if f.Offset < 0 {
		return nil
	}
	ob, err := decodeOutbox(f.Outbox)
	if err != nil {
		return err
	}
	t.Fenced++
	t.Counted += ob.Events
	t.KeyWrites += ob.Writes
	t.OpenWindows += len(ob.Open)
	return nil
}
