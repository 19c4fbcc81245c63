package count

import (
	"math/rand"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// eventsN is the size of the kill -9 run: 500,000 by default (the size);
// EVCTL_COUNT_TEST_EVENTS overrides it.
func eventsN(t *testing.T) int {
	if s := os.Getenv("EVCTL_COUNT_TEST_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 500_000
}

// TestKill9ExactlyOnce: a count process is killed with SIGKILL at random points of a run over
// Zipf-distributed keys, restarted each time; at the end every counter equals the exact count
// computed from the topic and each milestone was produced exactly once. Real kfake and Redis.
func TestKill9ExactlyOnce(t *testing.T) {
	f := newFixture(t, 4)
	f.kill9Run(eventsN(t), 40)
}

// TestKill9ExactlyOnceRepartitioned is TestKill9ExactlyOnce (at a fifth of the size) with the
// source topic keyed by event_id, not by the counters' key: every record goes through the
// counters' repartition topics (SPEC-dataplane 12), and a kill between forwarding a record and
// fencing its source re-forwards it, which the counting side must recognise.
func TestKill9ExactlyOnceRepartitioned(t *testing.T) {
	f := newFixture(t, 4)
	f.repartition = true
	f.kill9Run(eventsN(t)/5, 20)
}

// kill9Run produces n events in bursts while a count process is killed with SIGKILL at random
// points and restarted, then checks the counts and milestones.
func (f *fixture) kill9Run(n, bursts int) {
	t := f.t
	// Events arrive throughout, in bursts, so every kill lands in the middle of counting.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < bursts; i++ {
			f.produce(n/bursts, 100_000, int64(i+1))
			time.Sleep(150 * time.Millisecond)
		}
	}()
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	store := f.openStore()
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		cmd := f.child("count-1")
		time.Sleep(time.Duration(300+r.Intn(2000)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		kills++
		t.Logf("kill %d: %d events counted (fenced) so far", kills, f.progress(store))
	}
	last := f.child("count-1")
	f.settled(store, 5*time.Minute)
	_ = last.Process.Signal(syscall.SIGTERM)
	_ = last.Wait()
	t.Logf("%d events, %d kills; a restart redid a write's milestones %d times", n, kills, f.redone)
	if f.repartition {
		forwarded := 0
		for _, topic := range f.topics()[1:] {
			f.readAll(topic, func(*kgo.Record) { forwarded++ })
		}
		_, hits := f.exactHits()
		// More records than hits: a kill re-forwarded some, and the counting side skipped them.
		t.Logf("%d records in the repartition topics for %d hits (%d forwarded again after a kill)", forwarded, hits, int64(forwarded)-hits)
		if int64(forwarded) < hits {
			t.Errorf("%d records in the repartition topics, fewer than the %d hits", forwarded, hits)
		}
	}
	f.check(store)
}

// TestRebalanceTwoWorkers: a second count process joins mid-run (a cooperative rebalance moves
// partitions to it), then the first stops gracefully (they move back); counts are exact and
// milestones once each.
func TestRebalanceTwoWorkers(t *testing.T) {
	newFixture(t, 6).rebalanceRun(eventsN(t) / 5)
}

// TestRebalanceTwoWorkersRepartitioned is TestRebalanceTwoWorkers with the counters counted
// through their repartition topics (the source keyed by event_id): partitions of both the
// source and the repartition topics move between the workers.
func TestRebalanceTwoWorkersRepartitioned(t *testing.T) {
	f := newFixture(t, 6)
	f.repartition = true
	f.rebalanceRun(eventsN(t) / 10)
}

func (f *fixture) rebalanceRun(n int) {
	t := f.t
	f.produce(n, 20_000, 3)
	a := f.child("")
	time.Sleep(1500 * time.Millisecond)
	b := f.child("")
	f.produce(n, 20_000, 4)
	time.Sleep(2 * time.Second)
	_ = a.Process.Signal(syscall.SIGTERM)
	if err := a.Wait(); err != nil {
		t.Errorf("first worker did not stop cleanly: %v", err)
	}
	f.produce(n/2, 20_000, 5)
	store := f.openStore()
	f.settled(store, 5*time.Minute)
	_ = b.Process.Signal(syscall.SIGTERM)
	if err := b.Wait(); err != nil {
		t.Errorf("second worker did not stop cleanly: %v", err)
	}
	f.check(store)
}

// TestKill9ExactlyOnceEmbedded is TestKill9ExactlyOnce on the embedded bbolt store (evctl dev's),
// at a fifth of the size: bbolt's file lock lets the test read the store only between runs, so
// the last process is stopped (SIGTERM) and restarted until every window is written.
func TestKill9ExactlyOnceEmbedded(t *testing.T) {
	f := newFixture(t, 4)
	f.store = "file://" + t.TempDir()
	n := eventsN(t) / 5
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			f.produce(n/20, 50_000, int64(i+100))
			time.Sleep(150 * time.Millisecond)
		}
	}()
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	kills := 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		cmd := f.child("count-1")
		time.Sleep(time.Duration(300+r.Intn(2000)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
	}
	for round := 0; ; round++ {
		cmd := f.child("count-1")
		time.Sleep(4 * time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("count did not stop cleanly: %v", err)
		}
		store := f.openStore()
		if f.isSettled(store) {
			t.Logf("%d events, %d kills, settled after %d clean runs", n, kills, round+1)
			f.check(store)
			return
		}
		store.Close()
		if round == 20 {
			t.Fatal("not settled after 20 runs")
		}
	}
}
