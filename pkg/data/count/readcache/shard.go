package readcache

import (
	"bytes"
	"sync"
)

// shard holds part of the cache's values in memory the garbage collector does not scan: an
// index from each key's 64-bit hash to a slot, the slots (offset and length of the key's bytes
// in the arena, and the value) and the keys' bytes back to back in one arena. None of them
// holds a pointer, so a GC cycle marks a shard's three backing arrays and not its keys one by
// one: a map[string]int64 of 100,000 keys cost ~2 ms of mark work per cycle (~20 ms at the
// default MaxKeys), these cost ~0.1 ms, and the gateway collects a few times a second while it
// serves reads.
//
// Two keys with the same 64-bit hash (about one pair in 10^7 at a million keys) are told apart
// by their bytes: the later one goes to over, an ordinary map.
type shard struct {
	mu    sync.RWMutex
	idx   map[uint64]uint32
	slots []slot
	arena []byte
	over  map[string]int64
	// epoch changes when the shard is emptied: a fill that read the store before then may hold
	// a value a changelog record since replaced, so it is not stored.
	epoch uint64
}

type slot struct {
	off, n uint32 // the key's bytes: arena[off : off+n]
	v      int64
}

// get returns the value of mk (the counter, a zero byte and the key), whose hash is h.
func (s *shard) get(h uint64, mk []byte) (int64, bool) {
	if i, ok := s.idx[h]; ok {
		if sl := s.slots[i]; bytes.Equal(s.arena[sl.off:sl.off+sl.n], mk) {
			return sl.v, true
		}
	}
	if len(s.over) > 0 {
		v, ok := s.over[string(mk)]
		return v, ok
	}
	return 0, false
}

// put sets mk's value (s.mu held).
func (s *shard) put(h uint64, mk []byte, v int64) {
	if i, ok := s.idx[h]; ok {
		if sl := &s.slots[i]; bytes.Equal(s.arena[sl.off:sl.off+sl.n], mk) {
			sl.v = v
			return
		}
		if s.over == nil {
			s.over = map[string]int64{}
		}
		s.over[string(mk)] = v
		return
	}
	if s.idx == nil {
		s.idx = map[uint64]uint32{}
	}
	s.idx[h] = uint32(len(s.slots))
	s.slots = append(s.slots, slot{off: uint32(len(s.arena)), n: uint32(len(mk)), v: v})
	s.arena = append(s.arena, mk...)
}

// len is the number of keys held.
func (s *shard) len() int { return len(s.slots) + len(s.over) }

// empty drops every key (s.mu held) and moves the epoch.
func (s *shard) empty() {
	clear(s.idx)
	s.slots, s.arena, s.over = s.slots[:0], s.arena[:0], nil
	s.epoch++
}
