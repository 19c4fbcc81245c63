package route

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionDurable: records finish out of order (lanes run in parallel); the durable
// position is always the first offset not done, across the slice compaction, and none once all
// are done. Offsets have gaps (filtered records are never handed to lanes).
func TestPartitionDurable(t *testing.T) {
	const n = 5000
	p := &partition{lanes: []chan item{make(chan item, n)}}
	offs := make([]int64, n)
	for i := range n {
		offs[i] = int64(3 * i) // gaps: two filtered records between each
		if !p.offer(item{rec: &kgo.Record{Offset: offs[i]}}) {
			t.Fatal("offer refused with room in the lane")
		}
	}
	done := make([]bool, n)
	order := rand.New(rand.NewPCG(1, 2)).Perm(n)
	for k, i := range order {
		p.markDone(int64(i))
		done[i] = true
		first := -1
		for j := range n {
			if !done[j] {
				first = j
				break
			}
		}
		got, ok := p.durable()
		switch {
		case first < 0 && ok:
			t.Fatalf("step %d: all done but durable reports %d", k, got)
		case first >= 0 && (!ok || got != offs[first]):
			t.Fatalf("step %d: durable %d %v, want %d", k, got, ok, offs[first])
		}
		if p.waiting() != n-k-1 {
			t.Fatalf("step %d: waiting %d, want %d", k, p.waiting(), n-k-1)
		}
	}
}

// TestPartitionLaneFull: a full lane refuses the record (the worker pauses the partition)
// without recording it.
func TestPartitionLaneFull(t *testing.T) {
	p := &partition{lanes: []chan item{make(chan item, 1)}}
	if !p.offer(item{rec: &kgo.Record{Offset: 7, Key: []byte("k")}}) {
		t.Fatal("first offer refused")
	}
	if p.offer(item{rec: &kgo.Record{Offset: 8, Key: []byte("k")}}) {
		t.Fatal("offer accepted by a full lane")
	}
	if n, ok := p.durable(); !ok || n != 7 || p.waiting() != 1 {
		t.Fatalf("durable %d %v waiting %d", n, ok, p.waiting())
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

// FuzzRetryAfter: any Retry-After header parses to a delay that is never negative.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-5", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, now); d < 0 {
			t.Fatalf("retryAfter(%q) = %s", v, d)
		}
	})
}
