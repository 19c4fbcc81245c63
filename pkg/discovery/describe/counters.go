package describe

import (
	"context"
	"errors"
	"fmt"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/data/counterstore"
)

// Counter is one engagement counter of the event (SPEC-dataplane 12): what the contract says
// and, with an environment, how the count workers are doing on it.
type Counter struct {
	Name       string            `json:"name"`
	Key        string            `json:"key"`
	Where      map[string]string `json:"where,omitempty"`
	Sum        string            `json:"sum"`
	Windows    []contract.Window `json:"windows"`
	Milestones []int64           `json:"milestones"`
}

// CounterLive is the count workers' progress on the event's topic (all its counters together).
type CounterLive struct {
	Group string `json:"group"`
	// Lag is the count group's lag on the topic (-1 when the group has committed nothing).
	Lag    int64        `json:"lag"`
	Totals count.Totals `json:"totals"`
	// Reduction is records counted per store key write.
	Reduction float64 `json:"write_reduction"`
}

// Counters lists ev's counters (repository facts).
func Counters(ev *contract.Event) []Counter {
	out := []Counter{}
	for _, c := range ev.Counters {
		sum := c.Sum
		if c.Counts() {
			sum = contract.SumCount
		}
		out = append(out, Counter{Name: c.Name, Key: c.Key, Where: c.Where, Sum: sum,
			Windows: append([]contract.Window{}, c.Windows...), Milestones: append([]int64{}, c.Milestones...)})
	}
	return out
}

// AddCounters fills r.CounterLive from the environment's counter store and the count group's
// lag (from r.Groups, so call it after AddLive). Problems go to r.Errors.
//
// topics are the event's topic and its counters' repartition topics: the totals are read from the
// fences of all of them (a repartitioned counter is counted from its repartition topic).
func (r *Report) AddCounters(ctx context.Context, store counterstore.Store, storeErr error, topics []string) {
	if len(r.Counters) == 0 || r.Env == "" {
		return
	}
	live := &CounterLive{Group: count.Group(r.Env), Lag: -1}
	var parts []int32
	for _, g := range r.Groups {
		if g.Group == live.Group {
			live.Lag = g.Lag
			for _, p := range g.Partitions {
				parts = append(parts, p.Partition)
			}
		}
	}
	r.CounterLive = live
	switch {
	case errors.Is(storeErr, counterstore.ErrInUse):
		r.Errors = append(r.Errors, "counters: the embedded store is held by another process (evctl dev or evctl count); totals need redis:// or a stopped worker")
		return
	case storeErr != nil:
		r.Errors = append(r.Errors, fmt.Sprintf("counters: %v", storeErr))
		return
	case len(parts) == 0:
		return // no count worker has committed on the topic yet
	}
	t, err := count.ReadTotals(ctx, store, r.Env, topics, parts)
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("counters: %v", err))
		return
	}
	live.Totals, live.Reduction = t, round(t.Reduction())
}
