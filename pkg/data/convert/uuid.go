package convert

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The default event_id generator: RFC 9562 UUIDv7 without a lock, a system call or an
// allocation per id.
//
//	unix_ts_ms (48) | ver=7 (4) | rand_a (12) | var=0b10 (2) | rand_b (62)
//
// rand_a holds the sub-millisecond fraction of the clock (RFC 9562 section 6.2, method 3), so
// ids sort by time to about 250 ns. rand_b is a keyed bijection of a process-wide counter that
// starts at a random value: within a process no two ids share rand_b (the counter would need
// 2^62 ids to wrap), so ids are unique whatever the clock does; across processes the random
// key and start make rand_b as unlikely to collide as 62 random bits. The key and start come
// from crypto/rand once per process.
var v7 struct {
	k1, k2 uint64
	ctr    atomic.Uint64
}

func init() {
	var seed [24]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	v7.k1 = binary.LittleEndian.Uint64(seed[0:])
	v7.k2 = binary.LittleEndian.Uint64(seed[8:])
	v7.ctr.Store(binary.LittleEndian.Uint64(seed[16:]))
}

const mask62 = 1<<62 - 1

// mix62 is a bijection of [0, 2^62): xor with a key, multiplications by odd constants and
// xor-shifts, each invertible modulo 2^62.
func mix62(x uint64) uint64 {
	x = (x ^ v7.k1) & mask62
	x = (x * 0xbf58476d1ce4e5b9) & mask62
	x ^= x >> 31
	x = (x * 0x94d049bb133111eb) & mask62
	x ^= x >> 29
	x = (x ^ v7.k2) & mask62
	return x
}

// newV7 returns a UUIDv7 for the instant t.
func newV7(t time.Time) (id uuid.UUID) {
	ns := t.UnixNano()
	ms := uint64(ns / 1e6)
	frac := uint64(ns%1e6) * 4096 / 1e6 // 12 bits of the sub-millisecond fraction
	hi := ms<<16 | 0x7000 | frac&0xfff
	lo := 1<<63 | mix62(v7.ctr.Add(1)&mask62)
	binary.BigEndian.PutUint64(id[0:], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// NewV7 returns a new UUIDv7: the default Options.NewID. It is safe for concurrent use and
// never fails.
func NewV7() (uuid.UUID, error) { return newV7(time.Now()), nil }
