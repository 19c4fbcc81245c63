package delta_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// checkExactlyOnce reads the table with DuckDB and compares its event_id multiset with the n
// events produced (e000000 ... ): every one present, none twice.
func checkExactlyOnce(t *testing.T, f *fixture, n int) {
	t.Helper()
	agg := f.duck(t, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, min(event_id) AS lo, max(event_id) AS hi FROM t")
	got := fmt.Sprint(agg[0]["n"], " ", agg[0]["ids"], " ", agg[0]["lo"], " ", agg[0]["hi"])
	want := fmt.Sprintf("%d %d e%06d e%06d", n, n, 0, n-1)
	if got != want {
		dups := f.duck(t, "SELECT event_id, count(*) AS c FROM t GROUP BY 1 HAVING c > 1 ORDER BY 1 LIMIT 5")
		t.Fatalf("rows, distinct event_ids, min, max = %s, want %s (duplicates: %v)", got, want, dups)
	}
	// Same count, same distinct count and the ids are drawn from e000000..e{n-1} with the bounds
	// present: with n distinct values among n candidates, the sets are equal.
	bad := f.duck(t, fmt.Sprintf("SELECT count(*) AS c FROM t WHERE event_id NOT LIKE 'e%%' OR length(event_id) != 7 OR event_id > 'e%06d'", n-1))
	if fmt.Sprint(bad[0]["c"]) != "0" {
		t.Fatalf("%v rows with an event_id that was never produced", bad[0]["c"])
	}
}

// TestKill9ExactlyOnce kills the worker process with SIGKILL at random points of a 200k-event
// run, several times, restarts it, and checks that the table holds every event exactly once.
func TestKill9ExactlyOnce(t *testing.T) {
	f := newFixture(t, 8, "event_date")
	const n = 200000
	f.produce(t, f.sha, values(t, f.md, 0, n/2))
	const group = "evctl.local.ingest.delta"
	spec := f.spec(group)
	spec.Flush, spec.MaxRows = 50*time.Millisecond, 4000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	for k := 0; k < 5; k++ {
		c := startChild(t, spec)
		if k == 2 {
			f.produce(t, f.sha, values(t, f.md, n/2, n/2)) // more events while the worker restarts
		}
		time.Sleep(time.Duration(1500+rng.IntN(3000)) * time.Millisecond)
		c.kill()
	}
	c := startChild(t, spec)
	waitForChild(t, c, "the restarted worker to catch up", func() bool { return f.caughtUp(t, group) })
	c.kill()
	checkExactlyOnce(t, f, n)
}

// TestRebalanceAfterKill runs two workers in one group, kills one mid-run and checks that the
// other took its partitions over and nothing was lost or written twice.
func TestRebalanceAfterKill(t *testing.T) {
	f := newFixture(t, 6, "event_date")
	const n = 60000
	f.produce(t, f.sha, values(t, f.md, 0, n))
	const group = "evctl.local.ingest.delta"
	spec := f.spec(group)
	spec.Flush, spec.MaxRows = 50*time.Millisecond, 2000
	a := startChild(t, spec)
	b := start(t, spec) // in-process, so its metrics can be read
	time.Sleep(1500 * time.Millisecond)
	a.kill()
	waitFor(t, "the surviving worker to catch up", func() bool { return f.caughtUp(t, group) })
	b.stop()
	checkExactlyOnce(t, f, n)
}
