package lint

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// The index's body is a compact binary encoding rather than gob: on 10,000 events gob wrote
// 20 MB (every entry repeats the same import paths and 64-character hashes) and reading plus
// rewriting it was most of what `evctl lint <one file>` cost. Here every string is written once
// in a table and named by its number, sha256 names are 32 raw bytes, and the (path, blob) pairs
// of the closures, which nearly every event shares, are written once: the same index weighs
// about a tenth. Decoding checks every length and reference; anything out of place makes the
// whole index a miss (errIndex), never a partial or wrong one (FuzzIncrIndexDecode).

// errIndex is a body that does not decode.
var errIndex = errors.New("lint: cache: the index does not decode")

// indexWriter builds a body: the sections go to out, the strings they name to a table that is
// written first.
type indexWriter struct {
	out     []byte
	strs    []string
	strID   map[string]uint64
	pairs   []incrSet
	pairID  map[incrSet]uint64
	gens    []incrGen
	genID   map[incrGen]uint64
	scratch []byte
}

func (w *indexWriter) uvarint(v uint64) { w.out = binary.AppendUvarint(w.out, v) }
func (w *indexWriter) varint(v int64)   { w.out = binary.AppendVarint(w.out, v) }

func (w *indexWriter) bool(b bool) {
	if b {
		w.out = append(w.out, 1)
	} else {
		w.out = append(w.out, 0)
	}
}

func (w *indexWriter) str(s string) {
	id, ok := w.strID[s]
	if !ok {
		id = uint64(len(w.strs))
		w.strs = append(w.strs, s)
		w.strID[s] = id
	}
	w.uvarint(id)
}

// hash writes a sha256 hex name as its 32 bytes (0x01), "" as 0x00, and anything else as a
// string (0x02), so any value round-trips.
func (w *indexWriter) hash(s string) {
	switch {
	case s == "":
		w.out = append(w.out, 0)
	case len(s) == 64 && isLowerHex(s):
		w.scratch, _ = hex.AppendDecode(w.scratch[:0], []byte(s))
		w.out = append(w.out, 1)
		w.out = append(w.out, w.scratch...)
	default:
		w.out = append(w.out, 2)
		w.str(s)
	}
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (w *indexWriter) strs2(ss []string) {
	w.uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

// encodeIndex returns the body of idx.
func encodeIndex(idx *incrIndexFile) []byte {
	// Sized for what 10,000 events hold, so the maps do not grow and rehash on the way.
	n := len(idx.Entries)
	w := &indexWriter{strID: make(map[string]uint64, 6*n+len(idx.Stats)), pairID: make(map[incrSet]uint64, n+64), genID: make(map[incrGen]uint64, n+64), out: make([]byte, 0, 256*n)}
	w.str(idx.Version)

	// Entries. Their closures and gen files are numbers in tables written below.
	paths := indexKeys(idx.Entries)
	w.uvarint(uint64(len(paths)))
	for _, p := range paths {
		w.str(p)
		w.entry(idx.Entries[p])
	}
	entries := w.out

	w.out = nil
	w.uvarint(uint64(len(w.pairs)))
	for _, c := range w.pairs {
		w.str(c.Path)
		w.hash(c.Blob)
	}
	w.uvarint(uint64(len(w.gens)))
	for _, g := range w.gens {
		w.str(g.Path)
		w.hash(g.Sum)
		w.hash(g.Blob)
	}
	keys := indexKeys(idx.Imports)
	w.uvarint(uint64(len(keys)))
	for _, p := range keys {
		w.str(p)
		w.hash(idx.Imports[p])
	}
	keys = indexKeys(idx.ImportSyms)
	w.uvarint(uint64(len(keys)))
	for _, p := range keys {
		s := idx.ImportSyms[p]
		w.str(p)
		w.str(s.Package)
		w.strs2(s.Names)
	}
	keys = indexKeys(idx.Blobs)
	w.uvarint(uint64(len(keys)))
	for _, b := range keys {
		l := idx.Blobs[b]
		w.hash(b)
		w.str(l.Pack)
		w.varint(l.Off)
		w.varint(l.Len)
	}
	keys = indexKeys(idx.Stats)
	w.uvarint(uint64(len(keys)))
	for _, p := range keys {
		st := idx.Stats[p]
		w.str(p)
		w.varint(st.Size)
		w.varint(st.Mtime)
		w.uvarint(uint64(st.Mode))
		w.hash(st.Sum)
		w.uvarint(st.Ino)
		w.varint(st.Ctime)
	}
	w.varint(idx.StatsTaken)
	w.strs2(idx.Dropped)
	w.strs2(idx.DroppedStats)
	tables := w.out

	// The string table first, then the tables, then the entries.
	w.out = nil
	w.uvarint(uint64(len(w.strs)))
	for _, s := range w.strs {
		w.uvarint(uint64(len(s)))
		w.out = append(w.out, s...)
	}
	w.uvarint(uint64(len(tables)))
	w.out = append(w.out, tables...)
	w.out = append(w.out, entries...)
	return w.out
}

func (w *indexWriter) entry(e *incrEntry) {
	w.hash(e.Key)
	w.str(e.Today)
	w.uvarint(uint64(len(e.Deps)))
	for _, d := range e.Deps {
		w.str(d.Path)
		w.hash(d.Sum)
	}
	w.uvarint(uint64(len(e.Diags)))
	for _, d := range e.Diags {
		w.str(d.File)
		w.varint(int64(d.Line))
		w.varint(int64(d.Col))
		w.str(d.Rule)
		w.str(string(d.Severity))
		w.str(d.Message)
	}
	w.bool(e.Event != nil)
	if ev := e.Event; ev != nil {
		for _, s := range []string{ev.Name, ev.Domain, ev.Dir, ev.File, ev.Team, ev.Pod, ev.ProtoFile} {
			w.str(s)
		}
		w.bool(ev.Raw)
		w.strs2(ev.Counters)
	}
	w.bool(e.Compiled)
	w.str(e.Path)
	w.str(e.Package)
	w.uvarint(uint64(len(e.Closure)))
	for _, c := range e.Closure {
		id, ok := w.pairID[c]
		if !ok {
			id = uint64(len(w.pairs))
			w.pairs = append(w.pairs, c)
			w.pairID[c] = id
		}
		w.uvarint(id)
	}
	w.uvarint(uint64(len(e.Gen)))
	for _, g := range e.Gen {
		id, ok := w.genID[g]
		if !ok {
			id = uint64(len(w.gens))
			w.gens = append(w.gens, g)
			w.genID[g] = id
		}
		w.uvarint(id)
	}
	w.strs2(e.Symbols)
	w.strs2(e.Imports)
}

// indexKeys lists a map's keys. Their order does not matter to the reader, so they are not
// sorted: on 10,000 events sorting was a tenth of writing the index.
func indexKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// indexReader decodes a body; the first problem sticks in err and every later read returns a
// zero value, so callers check err once.
type indexReader struct {
	b     []byte
	err   error
	strs  []string
	pairs []incrSet
	gens  []incrGen
}

func (r *indexReader) fail() {
	if r.err == nil {
		r.err = errIndex
	}
	r.b = nil
}

func (r *indexReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *indexReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that the rest of the body can hold (each item takes a byte at least),
// so a damaged length cannot make a huge allocation.
func (r *indexReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *indexReader) byte1() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *indexReader) bool() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail()
	return false
}

func (r *indexReader) str() string {
	id := r.uvarint()
	if id >= uint64(len(r.strs)) {
		r.fail()
		return ""
	}
	return r.strs[id]
}

func (r *indexReader) hash() string {
	switch r.byte1() {
	case 0:
		return ""
	case 1:
		if len(r.b) < 32 {
			r.fail()
			return ""
		}
		s := hex.EncodeToString(r.b[:32])
		r.b = r.b[32:]
		return s
	case 2:
		return r.str()
	}
	r.fail()
	return ""
}

func (r *indexReader) strs2() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *indexReader) int() int {
	v := r.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail()
		return 0
	}
	return int(v)
}

// decodeIndex reads a body encodeIndex wrote.
func decodeIndex(body []byte) (*incrIndexFile, error) {
	r := &indexReader{b: body}
	// The strings share one allocation: a copy of the body they are sliced from.
	all := string(body)
	n := r.count()
	r.strs = make([]string, n)
	for i := range r.strs {
		l := r.count()
		if r.err != nil {
			return nil, r.err
		}
		at := len(body) - len(r.b)
		r.strs[i] = all[at : at+l]
		r.b = r.b[l:]
	}
	tl := r.count()
	if r.err != nil {
		return nil, r.err
	}
	rest := r.b[tl:]
	r.b = r.b[:tl]
	idx := &incrIndexFile{Imports: map[string]string{}, ImportSyms: map[string]incrSyms{}, Blobs: map[string]blobLoc{}, Stats: map[string]workspace.FileStat{}}

	r.pairs = make([]incrSet, r.count())
	for i := range r.pairs {
		r.pairs[i] = incrSet{Path: r.str(), Blob: r.hash()}
	}
	r.gens = make([]incrGen, r.count())
	for i := range r.gens {
		r.gens[i] = incrGen{Path: r.str(), Sum: r.hash(), Blob: r.hash()}
	}
	for i, n := 0, r.count(); i < n; i++ {
		p := r.str()
		idx.Imports[p] = r.hash()
	}
	for i, n := 0, r.count(); i < n; i++ {
		p := r.str()
		idx.ImportSyms[p] = incrSyms{Package: r.str(), Names: r.strs2()}
	}
	for i, n := 0, r.count(); i < n; i++ {
		b := r.hash()
		idx.Blobs[b] = blobLoc{Pack: r.str(), Off: r.varint(), Len: r.varint()}
	}
	for i, n := 0, r.count(); i < n; i++ {
		p := r.str()
		idx.Stats[p] = workspace.FileStat{Size: r.varint(), Mtime: r.varint(), Mode: uint32(r.uvarint()), Sum: r.hash(), Ino: r.uvarint(), Ctime: r.varint()}
	}
	idx.StatsTaken = r.varint()
	idx.Dropped = r.strs2()
	idx.DroppedStats = r.strs2()
	if r.err != nil || len(r.b) != 0 {
		return nil, errIndex
	}

	r.b = rest
	idx.Version = r.str()
	n = r.count()
	idx.Entries = make(map[string]*incrEntry, n)
	for i := 0; i < n && r.err == nil; i++ {
		p := r.str()
		idx.Entries[p] = r.entry()
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, errIndex
	}
	return idx, nil
}

func (r *indexReader) entry() *incrEntry {
	e := &incrEntry{Key: r.hash(), Today: r.str()}
	if n := r.count(); n > 0 {
		e.Deps = make([]incrDep, n)
		for i := range e.Deps {
			e.Deps[i] = incrDep{Path: r.str(), Sum: r.hash()}
		}
	}
	if n := r.count(); n > 0 {
		e.Diags = make(diag.List, n)
		for i := range e.Diags {
			d := &e.Diags[i]
			d.File, d.Line, d.Col = r.str(), r.int(), r.int()
			d.Rule, d.Severity, d.Message = r.str(), diag.Severity(r.str()), r.str()
		}
	}
	if r.bool() {
		ev := &incrEvent{}
		for _, s := range []*string{&ev.Name, &ev.Domain, &ev.Dir, &ev.File, &ev.Team, &ev.Pod, &ev.ProtoFile} {
			*s = r.str()
		}
		ev.Raw = r.bool()
		ev.Counters = r.strs2()
		e.Event = ev
	}
	e.Compiled, e.Path, e.Package = r.bool(), r.str(), r.str()
	if n := r.count(); n > 0 {
		e.Closure = make([]incrSet, n)
		for i := range e.Closure {
			id := r.uvarint()
			if id >= uint64(len(r.pairs)) {
				r.fail()
				return e
			}
			e.Closure[i] = r.pairs[id]
		}
	}
	if n := r.count(); n > 0 {
		e.Gen = make([]incrGen, n)
		for i := range e.Gen {
			id := r.uvarint()
			if id >= uint64(len(r.gens)) {
				r.fail()
				return e
			}
			e.Gen[i] = r.gens[id]
		}
	}
	e.Symbols = r.strs2()
	e.Imports = r.strs2()
	return e
}
