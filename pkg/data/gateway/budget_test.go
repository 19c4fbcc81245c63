package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/evctl/evctl/pkg/storage/descstore"
)

// TestRegistryEvictsOverBudgetAndReloadsFromOneStoreRead: with a budget that holds one event,
// using a second event evicts the first; the evicted event's next requests (concurrent) load it
// again with one read of its set, and the eviction is counted.
func TestRegistryEvictsOverBudgetAndReloadsFromOneStoreRead(t *testing.T) {
	e, cs := counted(t, []string{played, completed}, func(c *Config) { c.RegistryBudget = 1 })
	playedSet := descstore.SetKey(e.index.Events[played].SHA256)
	completedSet := descstore.SetKey(e.index.Events[completed].SHA256)
	e.mustAccept(played, []byte(playedJSON("a")))
	e.mustAccept(played, []byte(playedJSON("b")))
	s := e.gw.Registry().Current()
	if s.Events[played].Loaded() == nil {
		t.Fatal("played not loaded after its requests")
	}
	e.mustAccept(completed, completedJSON())
	if s.Events[played].Loaded() != nil || s.Events[completed].Loaded() == nil {
		t.Fatalf("after completed was used: played loaded %v, completed loaded %v (budget of one event)",
			s.Events[played].Loaded() != nil, s.Events[completed].Loaded() != nil)
	}
	if n, by := cs.setReads(); n != 2 || by[playedSet] != 1 || by[completedSet] != 1 {
		t.Fatalf("before the evicted event is used again: %d set reads %v, want one each", n, by)
	}

	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if st, resp, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON(fmt.Sprint("c", i)))); st != http.StatusAccepted {
				t.Errorf("played after its eviction: %d %v", st, resp)
			}
		})
	}
	wg.Wait()
	if n, by := cs.setReads(); by[playedSet] != 2 || n != 3 {
		t.Fatalf("16 requests of the evicted event: %d set reads %v, want played's read once more", n, by)
	}
	if rs := e.ready(); rs.Loaded != 1 {
		t.Fatalf("readyz %+v, want one event loaded", rs)
	}
	m := getText(t, e.url+"/metrics")
	for _, want := range []string{"evctl_gateway_registry_evictions_total 2", "evctl_gateway_registry_loads_total 3"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, grepLines(m, "evctl_gateway_registry"))
		}
	}
	if got := len(e.consume(e.topics[played])); got != 18 {
		t.Errorf("%d records of played on Kafka, want 18", got)
	}
	checkBudget(t, e.gw.Registry())
}

// TestRegistryDefaultBudgetEvictsNothing: the default budget holds the repository's events
// (each a few KB), and what it counts is what is loaded, also after a reload replaced an event
// in use (the old one is no longer counted, the new one is).
func TestRegistryDefaultBudgetEvictsNothing(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed}})
	e.mustAccept(played, []byte(playedJSON("a")))
	e.mustAccept(completed, completedJSON())
	if rs := e.ready(); rs.Loaded != 2 {
		t.Fatalf("readyz %+v, want both events loaded", rs)
	}
	total, n := e.gw.Registry().budget.held()
	if n != 2 || total <= 2*loadedOverhead || total > 1<<20 {
		t.Fatalf("budget counts %d bytes for %d events, want 2 events of a few KB", total, n)
	}
	if m := getText(t, e.url+"/metrics"); !strings.Contains(m, "evctl_gateway_registry_evictions_total 0") {
		t.Errorf("evictions under the default budget:\n%s", grepLines(m, "evctl_gateway_registry"))
	}
	checkBudget(t, e.gw.Registry())
	gen := e.gw.Registry().Current().Generation
	e.edit(played, "edited")
	e.writeIndex()
	e.waitReload(gen)
	if _, n := e.gw.Registry().budget.held(); n != 2 {
		t.Fatalf("budget counts %d events after played was replaced, want 2", n)
	}
	checkBudget(t, e.gw.Registry())
}

// TestRegistryEvictionDuringUseAndReloadsIsSafe (run it with -race): requests for two events
// that evict each other at every load (a budget of one event), single and in batches mixing
// both, while reloads replace one of them. Every event is accepted and reaches Kafka once, and
// the budget counts exactly the loaded events of the current snapshot.
func TestRegistryEvictionDuringUseAndReloadsIsSafe(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed}, cfg: func(c *Config) { c.RegistryBudget = 1 }})
	const workers, rounds = 4, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("w%d-%d", w, i)
				if st, resp, _ := e.post("/v1/events/"+played, "tok-growth", "application/json", []byte(playedJSON(id))); st != http.StatusAccepted {
					t.Errorf("played: %d %v", st, resp)
				}
				if st, resp, _ := e.post("/v1/events/"+completed, "tok-growth", "application/json", completedJSON()); st != http.StatusAccepted {
					t.Errorf("completed: %d %v", st, resp)
				}
				batch := `{"event":"` + played + `","data":` + playedJSON(id+"-b") + "}\n" +
					`{"event":"` + completed + `","data":` + string(completedJSON()) + "}\n"
				st, resp, _ := e.post("/v1/batch", "tok-growth", "application/json", []byte(batch))
				if st != http.StatusOK || resp["accepted"] != float64(2) {
					t.Errorf("batch: %d %v", st, resp)
				}
			}
		})
	}
	// Meanwhile, played is republished three times (each a reload replacing it).
	shas := map[string]bool{e.index.Events[played].SHA256: true}
	for i := range 3 {
		gen := e.gw.Registry().Current().Generation
		shas[e.edit(played, fmt.Sprint("edit ", i))] = true
		e.writeIndex()
		e.waitReload(gen)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	recs := e.consume(e.topics[played])
	if len(recs) != 2*workers*rounds {
		t.Errorf("%d records of played, want %d", len(recs), 2*workers*rounds)
	}
	for _, r := range recs {
		if sha := headerOf(r.Headers, descstore.HeaderSchema); !shas[sha] {
			t.Fatalf("record with schema %q, not one of played's sets", sha)
		}
	}
	if got := len(e.consume(e.topics[completed])); got != 2*workers*rounds {
		t.Errorf("%d records of completed, want %d", got, 2*workers*rounds)
	}
	checkBudget(t, e.gw.Registry())
}

// checkBudget asserts the budget's books: its total is the sum of what it counts, and what it
// counts is exactly the loaded events of the current snapshot.
func checkBudget(t *testing.T, r *Registry) {
	t.Helper()
	b := r.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum int64
	counted := map[*Loaded]bool{}
	for i, l := range b.ring {
		if b.slot[l] != i {
			t.Errorf("%s: slot %d, at %d in the ring", l.ID, b.slot[l], i)
		}
		counted[l] = true
		sum += l.cost
	}
	if sum != b.total || len(b.slot) != len(b.ring) {
		t.Errorf("budget total %d, sum of counted %d; %d slots for %d counted", b.total, sum, len(b.slot), len(b.ring))
	}
	for id, ev := range r.Current().Events {
		if l := ev.Loaded(); l != nil && !counted[l] {
			t.Errorf("%s is loaded but not counted", id)
		}
	}
	for l := range counted {
		if r.Current().Events[l.ID] != l.Event || l.Event.Loaded() != l {
			t.Errorf("%s is counted but not loaded in the current snapshot", l.ID)
		}
	}
}
