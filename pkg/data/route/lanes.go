package route

import (
	"context"
	"hash/fnv"
	"sync"
)

// partition delivers one assigned partition's records in the background, so a record in
// backoff never holds the worker's poll loop, its flushes or a rebalance. Records go to lanes
// by a hash of their key: each lane delivers its records one at a time in offset order (order
// per key, as Kafka promises it), lanes run in parallel, and a key in backoff holds only the
// keys that share its lane.
//
// The partition also tracks which of its offsets are delivered or dead-lettered: its durable
// position is the first offset that is not, and the worker commits no further (at least once).
type partition struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lanes  []chan item

	mu   sync.Mutex
	offs []int64 // offsets handed to lanes and not yet known done, in order, from head
	done []bool
	head int   // index in offs of the first slot not yet done
	base int64 // sequence number of offs[0]
	seq  int64 // next sequence number
	left int   // records handed to lanes and not yet done
}

func newPartition(parent context.Context, lanes, depth int, deliver func(context.Context, item) error, onDone func()) *partition {
	p := &partition{lanes: make([]chan item, lanes)}
	p.ctx, p.cancel = context.WithCancel(parent)
	for i := range p.lanes {
		ch := make(chan item, depth)
		p.lanes[i] = ch
		p.wg.Go(func() {
			for {
				select {
				case <-p.ctx.Done():
					return
				case it := <-ch:
					if err := deliver(p.ctx, it); err != nil {
						return // the partition is leaving; its later records stay undone
					}
					p.markDone(it.seq)
					onDone()
				}
			}
		})
	}
	return p
}

// lane picks the lane of a key: keyless records all share lane 0 (partition order).
func (p *partition) lane(key []byte) chan item {
	if len(key) == 0 || len(p.lanes) == 1 {
		return p.lanes[0]
	}
	h := fnv.New32a()
	_, _ = h.Write(key)
	return p.lanes[h.Sum32()%uint32(len(p.lanes))]
}

// offer hands it to its lane, or reports false when that lane is full (the caller pauses the
// partition). Only the worker's goroutine calls offer, so a lane with room stays with room
// until the send.
func (p *partition) offer(it item) bool {
	ch := p.lane(it.rec.Key)
	if len(ch) == cap(ch) {
		return false
	}
	p.mu.Lock()
	it.seq = p.seq
	p.seq++
	p.offs = append(p.offs, it.rec.Offset)
	p.done = append(p.done, false)
	p.left++
	p.mu.Unlock()
	ch <- it
	return true
}

func (p *partition) markDone(seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[seq-p.base] = true
	p.left--
	for p.head < len(p.done) && p.done[p.head] {
		p.head++
	}
	// Compact once the done prefix is most of the slice (amortised O(1) per record).
	if p.head > 1024 && p.head*2 > len(p.done) {
		n := copy(p.offs, p.offs[p.head:])
		copy(p.done, p.done[p.head:])
		p.offs, p.done = p.offs[:n], p.done[:n]
		p.base += int64(p.head)
		p.head = 0
	}
}

// durable returns the first offset not yet delivered or dead-lettered, and false when every
// record handed to the partition is done.
func (p *partition) durable() (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head < len(p.offs) {
		return p.offs[p.head], true
	}
	return 0, false
}

// waiting is the number of records handed to the lanes and not yet done.
func (p *partition) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.left
}

// stop abandons what is not delivered (an attempt in flight is cancelled) and waits for the
// lanes to exit.
func (p *partition) stop() {
	p.cancel()
	p.wg.Wait()
}
