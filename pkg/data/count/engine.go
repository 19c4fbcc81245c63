package count

import (
	"sort"
	"time"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Tier is one window tier: keys whose value is below Below (0 on the last tier: any value) are
// aggregated in tumbling windows of Every.
type Tier struct {
	Below int64
	Every time.Duration
}

// Spec is one counter as the engine runs it.
type Spec struct {
	Name       string
	Tiers      []Tier
	Milestones []int64
}

// SpecOf builds a Spec from a linted contract counter.
func SpecOf(c contract.Counter) (Spec, error) {
	s := Spec{Name: c.Name, Milestones: append([]int64(nil), c.Milestones...)}
	for _, w := range c.Windows {
		d, err := w.Duration()
		if err != nil {
			return Spec{}, err
		}
		s.Tiers = append(s.Tiers, Tier{Below: w.Below, Every: d})
	}
	return s, nil
}

// TierOf returns the index of the tier a key with value v is aggregated in.
func (s *Spec) TierOf(v int64) int {
	for i, t := range s.Tiers {
		if i == len(s.Tiers)-1 || v < t.Below {
			return i
		}
	}
	return len(s.Tiers) - 1
}

// WindowEnd is the end (exclusive, Unix ms) of the tumbling window of tier that contains t:
// windows are aligned to the Unix epoch, so every worker cuts the same windows.
func (s *Spec) WindowEnd(tier int, t int64) int64 {
	every := s.Tiers[tier].Every.Milliseconds()
	if every <= 0 {
		every = 1
	}
	return (t/every + 1) * every
}

// Crossed returns the milestones m with peak < m <= new, peak being the highest value the key
// held before (counterstore.Change.Peak): reached for the first time by this change, so each is
// reported by exactly one (fenced) store write, and a value that falls and rises again past a
// milestone does not report it twice.
func Crossed(milestones []int64, peak, new int64) []int64 {
	old := peak
	var out []int64
	for _, m := range milestones {
		if old < m && m <= new {
			out = append(out, m)
		}
	}
	return out
}

// WKey names an open window: one counter's key.
type WKey struct {
	Counter int // index into the engine's specs
	Key     string
}

// Window is one open window.
type Window struct {
	Delta int64 `json:"d"`
	// Opened is when the window's first record was handled (Unix ms).
	Opened int64 `json:"o"`
	// Tier is -1 until the key's value is known (Resolve), then the tier's index.
	Tier int `json:"t"`
	// End is the window's end (Unix ms); 0 while unresolved.
	End int64 `json:"e"`
}

// Partition is the open windows of one source partition. Not safe for concurrent use.
type Partition struct {
	specs []Spec
	// open is, per counter (index into specs), the open windows by key: one map per counter so
	// a lookup by a key's bytes needs no string (AddBytes).
	open       []map[string]*Window
	n          int // open windows
	unresolved []WKey
	due        int64 // NextDue, kept current so asking is cheap
}

// NewPartition returns an empty partition for specs (shared, read-only).
func NewPartition(specs []Spec) *Partition {
	open := make([]map[string]*Window, len(specs))
	for i := range open {
		open[i] = map[string]*Window{}
	}
	return &Partition{specs: specs, open: open}
}

// Values is what the engine knows of keys' current values (a cache of the store, filled from
// store reads and from the values each write returns).
type Values interface {
	Value(k WKey) (int64, bool)
}

// Add adds delta to the open window of k, opening one at now when there is none. The window's
// tier is chosen by the key's value now, before the window opens; when values does not know it,
// the window waits for Resolve.
func (p *Partition) Add(k WKey, delta int64, now int64, values Values) {
	if w := p.open[k.Counter][k.Key]; w != nil {
		w.Delta += delta
		return
	}
	p.openWindow(k, now, values).Delta += delta
}

// AddBytes is Add for a key given as bytes (a string field's wire value): an open window is
// found without converting them (the hot path: most records add to a window already open).
func (p *Partition) AddBytes(counter int, key []byte, delta int64, now int64, values Values) {
	if w := p.open[counter][string(key)]; w != nil {
		w.Delta += delta
		return
	}
	p.openWindow(WKey{Counter: counter, Key: string(key)}, now, values).Delta += delta
}

// openWindow opens k's window at now.
func (p *Partition) openWindow(k WKey, now int64, values Values) *Window {
	w := &Window{Opened: now, Tier: -1}
	p.open[k.Counter][k.Key] = w
	p.n++
	end := p.specs[k.Counter].WindowEnd(0, now)
	if v, ok := values.Value(k); ok {
		p.resolve(k, w, v)
		end = w.End
	} else {
		p.unresolved = append(p.unresolved, k)
	}
	if p.due == 0 || end < p.due {
		p.due = end
	}
	return w
}

// Unresolved returns the keys whose windows wait for their value, and forgets the list.
func (p *Partition) Unresolved() []WKey {
	out := p.unresolved
	p.unresolved = nil
	return out
}

// Resolve sets the tier of k's open window from the key's value before the window opened.
func (p *Partition) Resolve(k WKey, value int64) {
	if w := p.open[k.Counter][k.Key]; w != nil && w.Tier < 0 {
		p.resolve(k, w, value)
	}
}

func (p *Partition) resolve(k WKey, w *Window, v int64) {
	s := &p.specs[k.Counter]
	w.Tier = s.TierOf(v)
	w.End = s.WindowEnd(w.Tier, w.Opened)
}

// Closed is a window that closed: one store write for its key.
type Closed struct {
	Key   WKey
	Delta int64
}

// Close removes and returns the windows that ended at or before now (ordered by counter, key,
// so writes are deterministic). Unresolved windows stay open.
func (p *Partition) Close(now int64) []Closed {
	var out []Closed
	for c, m := range p.open {
		for key, w := range m {
			if w.Tier >= 0 && w.End <= now {
				out = append(out, Closed{Key: WKey{Counter: c, Key: key}, Delta: w.Delta})
				delete(m, key)
				p.n--
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key.Counter != out[j].Key.Counter {
			return out[i].Key.Counter < out[j].Key.Counter
		}
		return out[i].Key.Key < out[j].Key.Key
	})
	p.due = p.NextDue()
	return out
}

// NextEnd is the earliest end of a resolved open window, or 0 when none is open.
func (p *Partition) NextEnd() int64 {
	var next int64
	for _, m := range p.open {
		for _, w := range m {
			if w.Tier >= 0 && (next == 0 || w.End < next) {
				next = w.End
			}
		}
	}
	return next
}

// Due is NextDue, without a scan.
func (p *Partition) Due() int64 { return p.due }

// NextDue is when the next window may close: the earliest end of a resolved window, and for a
// window waiting for its key's value the end of the fastest tier's window (it cannot close
// earlier). 0 when none is open.
func (p *Partition) NextDue() int64 {
	var next int64
	for c, m := range p.open {
		for _, w := range m {
			end := w.End
			if w.Tier < 0 {
				end = p.specs[c].WindowEnd(0, w.Opened)
			}
			if next == 0 || end < next {
				next = end
			}
		}
	}
	return next
}

// Len is the number of open windows.
func (p *Partition) Len() int { return p.n }

// Snapshot returns the open windows (for the outbox), ordered.
func (p *Partition) Snapshot() []OpenWindow {
	out := make([]OpenWindow, 0, p.n)
	for c, m := range p.open {
		for key, w := range m {
			out = append(out, OpenWindow{Counter: p.specs[c].Name, Key: key, Window: *w})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Counter != out[j].Counter {
			return out[i].Counter < out[j].Counter
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Restore reopens windows from a snapshot. Windows of counters no longer in specs are dropped
// (the counter was removed from the contract); a counter whose tiers changed keeps the window's
// end as recorded, which closes it at the latest after its old length.
func (p *Partition) Restore(ws []OpenWindow) {
	idx := map[string]int{}
	for i, s := range p.specs {
		idx[s.Name] = i
	}
	for _, o := range ws {
		i, ok := idx[o.Counter]
		if !ok {
			continue
		}
		k := WKey{Counter: i, Key: o.Key}
		w := o.Window
		if w.Tier >= len(p.specs[i].Tiers) {
			w.Tier = len(p.specs[i].Tiers) - 1
		}
		if p.open[i][o.Key] == nil {
			p.n++
		}
		p.open[i][o.Key] = &w
		if w.Tier < 0 {
			p.unresolved = append(p.unresolved, k)
		}
	}
	p.due = p.NextDue()
}

// OpenWindow is an open window as kept in the outbox.
type OpenWindow struct {
	Counter string `json:"c"`
	Key     string `json:"k"`
	Window
}
