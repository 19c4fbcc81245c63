package count

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

// values is a map-backed Values for tests of the pure engine.
type values map[WKey]int64

func (v values) Value(k WKey) (int64, bool) { x, ok := v[k]; return x, ok }

var likes = Spec{Name: "post_likes", Tiers: []Tier{
	{Below: 1000, Every: 5 * time.Second}, {Below: 100000, Every: time.Minute}, {Every: 5 * time.Minute},
}, Milestones: []int64{100, 1000, 10000}}

func TestTierOf(t *testing.T) {
	for _, c := range []struct {
		v    int64
		want int
	}{{0, 0}, {999, 0}, {1000, 1}, {99999, 1}, {100000, 2}, {1 << 40, 2}, {-3, 0}} {
		if got := likes.TierOf(c.v); got != c.want {
			t.Errorf("TierOf(%d) = %d, want %d", c.v, got, c.want)
		}
	}
}

func TestWindowsAreAlignedTumbling(t *testing.T) {
	if got := likes.WindowEnd(0, 12_345); got != 15_000 {
		t.Errorf("5s window of 12.345s ends at %d", got)
	}
	if got := likes.WindowEnd(0, 15_000); got != 20_000 {
		t.Errorf("a window opened on a boundary ends one length later: %d", got)
	}
	if got := likes.WindowEnd(1, 61_000); got != 120_000 {
		t.Errorf("1m window of 61s ends at %d", got)
	}
}

// TestSuppressUntilClose: records are summed in the open window; nothing comes out before its
// end; at the end exactly one write per key.
func TestSuppressUntilClose(t *testing.T) {
	p := NewPartition([]Spec{likes})
	v := values{}
	a, b := WKey{0, "a"}, WKey{0, "b"}
	v[a], v[b] = 0, 0
	for i := int64(0); i < 10; i++ {
		p.Add(a, 1, 1000+i*100, v)
	}
	p.Add(b, 3, 2000, v)
	if got := p.Close(4999); len(got) != 0 {
		t.Fatalf("windows closed before their end: %v", got)
	}
	got := p.Close(5000)
	want := []Closed{{a, 10}, {b, 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("closed = %v, want %v", got, want)
	}
	if p.Len() != 0 || len(p.Close(1<<40)) != 0 {
		t.Fatal("a closed window was written twice")
	}
	// The next record opens a new window.
	p.Add(a, 1, 5001, v)
	if p.NextEnd() != 10_000 {
		t.Fatalf("next end %d", p.NextEnd())
	}
}

// TestTierCrossing: a key whose value crosses a tier boundary moves to the slower window for its
// next window (the tier is chosen by the value before the window opens, not during it).
func TestTierCrossing(t *testing.T) {
	p := NewPartition([]Spec{likes})
	k := WKey{0, "p"}
	v := values{k: 990}
	p.Add(k, 20, 1000, v) // value 990 < 1000: a 5s window, ending at 5000
	if p.NextEnd() != 5000 {
		t.Fatalf("window of a small key ends at %d, want 5000", p.NextEnd())
	}
	closed := p.Close(5000)
	if len(closed) != 1 || closed[0].Delta != 20 {
		t.Fatalf("closed %v", closed)
	}
	v[k] = 990 + 20 // the store's new value, as the write returns it
	p.Add(k, 1, 6000, v)
	if p.NextEnd() != 60_000 {
		t.Fatalf("after crossing 1000 the window ends at %d, want 60000 (1m tier)", p.NextEnd())
	}
	if got := p.Close(59_999); len(got) != 0 {
		t.Fatalf("the slower window closed early: %v", got)
	}
	if got := p.Close(60_000); len(got) != 1 || got[0].Delta != 1 {
		t.Fatalf("slower window: %v", got)
	}
}

// TestUnresolvedWaitsForValue: a key the cache does not know stays open until Resolve; then its
// window is the one its opening time falls in.
func TestUnresolvedWaitsForValue(t *testing.T) {
	p := NewPartition([]Spec{likes})
	k := WKey{0, "new"}
	p.Add(k, 2, 1000, values{})
	p.Add(k, 2, 1500, values{})
	if got := p.Unresolved(); !reflect.DeepEqual(got, []WKey{k}) {
		t.Fatalf("unresolved = %v", got)
	}
	if got := p.Close(1 << 40); len(got) != 0 {
		t.Fatalf("an unresolved window closed: %v", got)
	}
	p.Resolve(k, 5000) // tier 1: the 1m window containing 1000
	if got := p.Close(60_000); len(got) != 1 || got[0].Delta != 4 {
		t.Fatalf("after resolve: %v", got)
	}
}

func TestCrossed(t *testing.T) {
	ms := []int64{100, 1000, 10000}
	for _, c := range []struct {
		old, new int64
		want     []int64
	}{
		{0, 99, nil}, {0, 100, []int64{100}}, {99, 100, []int64{100}}, {100, 101, nil},
		{50, 20000, []int64{100, 1000, 10000}}, {1000, 1000, nil}, {999, 1000, []int64{1000}},
	} {
		if got := Crossed(ms, c.old, c.new); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("Crossed(%d→%d) = %v, want %v", c.old, c.new, got, c.want)
		}
	}
}

// TestSnapshotRestore: the open windows survive a JSON round trip through the outbox exactly,
// including unresolved ones; a removed counter's windows are dropped.
func TestSnapshotRestore(t *testing.T) {
	views := Spec{Name: "post_views", Tiers: []Tier{{Every: time.Second}}}
	p := NewPartition([]Spec{likes, views})
	v := values{{0, "a"}: 5}
	p.Add(WKey{0, "a"}, 3, 1000, v)
	p.Add(WKey{0, "b"}, 4, 1200, v) // unresolved
	p.Add(WKey{1, "a"}, 7, 1300, values{{1, "a"}: 0})
	data, err := json.Marshal(p.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap []OpenWindow
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	q := NewPartition([]Spec{likes, views})
	q.Restore(snap)
	if !reflect.DeepEqual(q.Snapshot(), p.Snapshot()) {
		t.Fatalf("restore = %+v, want %+v", q.Snapshot(), p.Snapshot())
	}
	if got := q.Unresolved(); !reflect.DeepEqual(got, []WKey{{0, "b"}}) {
		t.Fatalf("restored unresolved = %v", got)
	}
	r := NewPartition([]Spec{likes})
	r.Restore(snap)
	if r.Len() != 2 {
		t.Fatalf("windows of a removed counter kept: %+v", r.Snapshot())
	}
}

// TestWriteReductionModel: the arithmetic docs/benchmarks.md explains the write reduction with
// (modelReduction) predicts what the engine does on a simulated clock, cold and with history
// (so the table derived from it describes the code, not a guess). 1.5M events, 5 simulated s.
func TestWriteReductionModel(t *testing.T) {
	for _, age := range []time.Duration{0, 2 * time.Hour} {
		r := simulateReduction(t, age, 1_500_000)
		got, want := r.measured, r.model
		if want <= 0 || math.Abs(got-want)/want > 0.03 {
			t.Errorf("history %v: the engine did %.2f events per key write, the model says %.2f", age, got, want)
		}
	}
}
