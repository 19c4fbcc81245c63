package describe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

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

// CounterLive is the count workers' progress on the event's counters (all together).
type CounterLive struct {
	Group string `json:"group"`
	// Lag is the count group's lag summed over the topics it reads for the event: the event's
	// topic and its counters' repartition topics (a repartitioned counter is counted from its
	// repartition topic, so a worker behind there is behind on the counter even when it is
	// caught up on the source). -1 when the group has committed nothing on any of them.
	Lag int64 `json:"lag"`
	// Topics is the lag per topic, the event's topic first (Lag -1: nothing committed there).
	Topics []TopicLag   `json:"topics"`
	Totals count.Totals `json:"totals"`
	// Reduction is records counted per store key write.
	Reduction float64 `json:"write_reduction"`
}

// TopicLag is the count group's lag on one topic.
type TopicLag struct {
	Topic      string         `json:"topic"`
	Lag        int64          `json:"lag"`
	Partitions []PartitionLag `json:"partitions"`
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

// AddCounters fills r.CounterLive from the count group's lag on topics (read with adm; nil when
// Kafka is not reachable) and the environment's counter store. Problems go to r.Errors.
//
// topics are the event's topic first, then its counters' repartition topics: the lag is summed
// over them, and the totals are read from the fences of all of them (a repartitioned counter is
// counted from its repartition topic).
func (r *Report) AddCounters(ctx context.Context, adm *kadm.Client, store counterstore.Store, storeErr error, topics []string) {
	if len(r.Counters) == 0 || r.Env == "" {
		return
	}
	live := &CounterLive{Group: count.Group(r.Env), Lag: -1, Topics: []TopicLag{}}
	r.CounterLive = live
	parts := map[string][]int32{}
	if adm != nil {
		parts = live.addLag(ctx, adm, topics, &r.Errors)
	} else {
		r.Errors = append(r.Errors, "counters: lag: kafka is not reachable")
	}
	switch {
	case errors.Is(storeErr, counterstore.ErrInUse):
		r.Errors = append(r.Errors, "counters: the embedded store is held by another process (evctl dev or evctl count); totals need redis:// or a stopped worker")
		return
	case storeErr != nil:
		r.Errors = append(r.Errors, fmt.Sprintf("counters: %v", storeErr))
		return
	}
	var t count.Totals
	for _, topic := range topics {
		if len(parts[topic]) == 0 {
			continue // no count worker has committed on it yet
		}
		tt, err := count.ReadTotals(ctx, store, r.Env, []string{topic}, parts[topic])
		if err != nil {
			r.Errors = append(r.Errors, fmt.Sprintf("counters: %v", err))
			return
		}
		t.Fenced += tt.Fenced
		t.Counted += tt.Counted
		t.KeyWrites += tt.KeyWrites
		t.OpenWindows += tt.OpenWindows
	}
	live.Totals, live.Reduction = t, round(t.Reduction())
}

// addLag reads the count group's lag and keeps, per topic of topics, its partitions' lag; it
// returns the partitions the group has a position on, per topic.
func (l *CounterLive) addLag(ctx context.Context, adm *kadm.Client, topics []string, errs *[]string) map[string][]int32 {
	parts := map[string][]int32{}
	lags, err := adm.Lag(ctx, l.Group)
	if err == nil {
		err = lags.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // no count worker has joined yet: nothing committed, not a problem
	}
	if err != nil {
		*errs = append(*errs, fmt.Sprintf("counters: lag of group %s: %v", l.Group, err))
		return parts
	}
	gl := lags[l.Group].Lag
	for _, topic := range topics {
		tl := TopicLag{Topic: topic, Lag: -1, Partitions: []PartitionLag{}}
		for p, ml := range gl[topic] {
			pl := PartitionLag{Partition: p, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
			if ml.Err != nil {
				pl.Error = ml.Err.Error()
			}
			if ml.Lag >= 0 {
				tl.Lag = max(tl.Lag, 0) + ml.Lag
			}
			tl.Partitions = append(tl.Partitions, pl)
			parts[topic] = append(parts[topic], p)
		}
		sort.Slice(tl.Partitions, func(i, j int) bool { return tl.Partitions[i].Partition < tl.Partitions[j].Partition })
		slices.Sort(parts[topic])
		if tl.Lag >= 0 {
			l.Lag = max(l.Lag, 0) + tl.Lag
		}
		l.Topics = append(l.Topics, tl)
	}
	return parts
}
