package count

import (
	"fmt"
	"sort"

	"github.com/evctl/evctl/pkg/contracts/contract"
	countertopics "github.com/evctl/evctl/pkg/control/sink/counters"
)

// Select returns the counters of the events an environment hosts, narrowed to the events and
// counter names given (empty: all). A name that matches nothing is an error, so a typo in
// --counter does not silently run nothing.
func Select(evs []*contract.Event, hosts func(stage string) bool, events, counters []string) ([]EventCounters, error) {
	wantEv, wantC := set(events), set(counters)
	found := map[string]bool{}
	var out []EventCounters
	for _, ev := range evs {
		if len(ev.Counters) == 0 || !hosts(ev.Stage) {
			continue
		}
		if len(wantEv) > 0 && !wantEv[ev.ID()] {
			continue
		}
		ec := EventCounters{Event: ev.ID()}
		for _, c := range ev.Counters {
			if len(wantC) > 0 && !wantC[c.Name] {
				continue
			}
			ec.Counters = append(ec.Counters, c)
			if countertopics.Repartitioned(ev, c) {
				ec.Repartition = append(ec.Repartition, c.Name)
			}
			found["counter "+c.Name] = true
		}
		found["event "+ev.ID()] = true
		if len(ec.Counters) > 0 {
			out = append(out, ec)
		}
	}
	var missing []string
	for n := range wantEv {
		if !found["event "+n] {
			missing = append(missing, "event "+n)
		}
	}
	for n := range wantC {
		if !found["counter "+n] {
			missing = append(missing, "counter "+n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("count: no such %v with counters in this environment", missing)
	}
	return out, nil
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}
