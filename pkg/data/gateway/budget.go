package gateway

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultRegistryBudget bounds the estimated memory of the events loaded at once (their
// converter plans, and descriptors where the binary path built them), in bytes: 256 MiB holds
// about 17,000 events of the synthetic repository (scripts/synth, ~15 KB each), so a gateway
// whose 10,000 events are all in use evicts nothing and stays well under 1 GB.
const DefaultRegistryBudget = 256 << 20

// budget bounds what the loaded events of a registry hold. Each Loaded is counted from its load
// until it is evicted or its event leaves the registry (a reload that changed or removed it).
// Past the limit, the least recently used events are evicted by a clock sweep: each request
// sets its event's used bit, the sweep clears set bits and evicts an event found clear. An
// evicted event is only unhooked from its Event: requests holding its Loaded finish with it
// (nothing it holds is released by hand), and the event's next request loads it again, with
// one store read.
type budget struct {
	limit int64 // <= 0: unbounded

	mu    sync.Mutex
	total int64
	ring  []*Loaded
	hand  int
	// slot is each tracked Loaded's index in ring.
	slot map[*Loaded]int

	bytes     prometheus.Gauge
	evictions prometheus.Counter
}

func newBudget(limit int64, m *metrics) *budget {
	return &budget{limit: limit, slot: map[*Loaded]int{}, bytes: m.loadedBytes, evictions: m.evictions}
}

// add counts l, just loaded, and evicts others while over the limit. An event already retired
// (a reload replaced or removed it while this load ran) is not counted: nothing can reach it
// once its last request ends.
func (b *budget) add(l *Loaded) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l.retired.Load() {
		return
	}
	b.slot[l] = len(b.ring)
	b.ring = append(b.ring, l)
	b.total += l.cost
	b.evict(l)
	b.bytes.Set(float64(b.total))
}

// grow adds n to what l holds (its descriptors were built), if it is still counted.
func (b *budget) grow(l *Loaded, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.slot[l]; !ok {
		return
	}
	l.cost += n
	b.total += n
	b.evict(l)
	b.bytes.Set(float64(b.total))
}

// retire stops counting the loaded forms of events a reload replaced or removed. Each is marked
// retired first, so that a load of one still running is not counted when it ends (add).
func (b *budget) retire(events []*Event) {
	for _, ev := range events {
		ev.retired.Store(true)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range events {
		if l := ev.Loaded(); l != nil {
			if _, ok := b.slot[l]; ok {
				b.remove(l)
			}
		}
	}
	b.bytes.Set(float64(b.total))
}

// evict sweeps the clock until the total fits the limit, sparing keep (what the caller just
// loaded or grew: it is about to be used). An event whose bit is set gets a second chance. Two
// turns of the clock find every bit clear, so the sweep ends; one event larger than the limit
// on its own stays (it must serve its request).
func (b *budget) evict(keep *Loaded) {
	if b.limit <= 0 {
		return
	}
	for turns := 2*len(b.ring) + 1; b.total > b.limit && len(b.ring) > 1 && turns > 0; turns-- {
		if b.hand >= len(b.ring) {
			b.hand = 0
		}
		l := b.ring[b.hand]
		if l == keep {
			b.hand++
			continue
		}
		if l.used.Load() {
			l.used.Store(false)
			b.hand++
			continue
		}
		l.Event.loaded.CompareAndSwap(l, nil)
		b.remove(l)
		b.evictions.Inc()
	}
}

// remove stops counting l: the last of the ring takes its slot (the clock order changes, which
// only shifts when the moved event's bit is next looked at).
func (b *budget) remove(l *Loaded) {
	i := b.slot[l]
	last := len(b.ring) - 1
	b.ring[i] = b.ring[last]
	b.slot[b.ring[i]] = i
	b.ring[last] = nil
	b.ring = b.ring[:last]
	delete(b.slot, l)
	b.total -= l.cost
}

// held returns the estimated bytes of the events counted and how many they are.
func (b *budget) held() (int64, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total, len(b.ring)
}
