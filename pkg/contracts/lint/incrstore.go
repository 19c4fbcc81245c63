package lint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// The incremental cache lives in .evctl/cache/incr: one index of per-event entries and pack files
// of content-addressed blobs (each compiled file's encoding, each effective contract's source),
// named by their sha256. A run appends the blobs it makes to one new pack, so a cold run of
// 10,000 events writes one file rather than 20,000; the index says where each blob is. The index
// is rewritten whole (10,000 entries weigh a few MB); packs nothing names any more are removed,
// and when most of the bytes in packs are dead the live blobs are copied into a new one.
const (
	incrDir     = "incr"
	incrIndex   = "index"
	incrPacks   = "packs"
	incrVersion = "evctl-incr 3"
)

// blobLoc is where a blob is: a pack file and a byte range.
type blobLoc struct {
	Pack     string
	Off, Len int64
}

// incrIndexFile is what the index holds.
type incrIndexFile struct {
	Version string
	Entries map[string]*incrEntry // by event file path (contracts/feed/x.yaml)
	Imports map[string]string     // shared import path -> blob of its encoding, as last compiled
	// ImportSyms are the names each shared import declares, for the clash check.
	ImportSyms map[string]incrSyms
	// Blobs are where the blobs the entries name are.
	Blobs map[string]blobLoc
	// Stats are the files under contracts/ and gen/proto as last scanned, taken at StatsTaken
	// (Unix nanoseconds), so that the next scan reads only the files that changed.
	Stats      map[string]workspace.FileStat
	StatsTaken int64
	// Dropped and DroppedStats, in a delta only, are the entries and stats of the base index
	// that are gone.
	Dropped, DroppedStats []string
}

// incrSyms are the names a file declares in its package's scope.
type incrSyms struct {
	Package string
	Names   []string
}

// incrEntry is one event file's cached result: everything lint finds in that file alone, the
// summary the repository-wide rules need, and what the descriptor set and gen/ need of it.
type incrEntry struct {
	// Key is the sha256 of evctl's build, evctl.yaml and this file's path and content.
	Key string
	// Today is the date the findings were computed for when they depend on it (waivers), else "".
	Today string
	// Deps are the other files under contracts/ the result read (a raw .proto and the repository
	// files it imports, transitively) with their fileSum; "" when absent.
	Deps []incrDep
	// Diags are the findings of this event alone (load, event, effective and compiled rules).
	Diags diag.List
	// Event is nil when the file does not hold an event.
	Event *incrEvent
	// Compiled is set when the effective contract compiled; then the fields below are set.
	Compiled bool
	Path     string    // import path of the effective contract
	Closure  []incrSet // the file and its imports, each after its imports, each once
	Gen      []incrGen // the files `evctl generate` writes for this event
	// Symbols are the names the file declares in its package scope (package, top-level
	// messages, enums, their values when top-level, extensions, services), to find clashes
	// between files that were compiled apart.
	Symbols []string
	Package string
	// Imports lists every import path of the closure but the file itself.
	Imports []string
}

type incrDep struct{ Path, Sum string }

// incrSet is one file of a descriptor set: its import path and the blob of its encoding.
type incrSet struct{ Path, Blob string }

// incrGen is one file generate writes: its path under gen/proto and the sha256 of its content;
// Blob names the content when it is the effective contract, else the content is an evctl
// option file or a repository .proto read again when needed.
type incrGen struct{ Path, Sum, Blob string }

// incrEvent is what the repository-wide rules read of an event they do not load.
type incrEvent struct {
	Name, Domain, Dir, File string
	Team, Pod               string
	ProtoFile               string // schema.proto.file; "" on the form path
	Raw                     bool   // schema.proto is set
	Counters                []string
}

// incrStore reads and writes blobs; it is safe for concurrent use.
type incrStore struct {
	dir string
	// compactAt is how many dead bytes (and more than live ones) make save copy the live blobs
	// into a new pack.
	compactAt int64
	// noDelta makes save write the index whole every time (tests of the packs).
	noDelta bool

	// base is the index file as read, before its delta (incrdelta.go); nil without one.
	base *incrBase

	mu     sync.Mutex
	added  map[string]bool     // blobs this run stored
	locs   map[string]blobLoc  // every blob known: the loaded index's and this run's
	before map[string]bool     // packs the loaded index named
	pack   *os.File            // this run's pack, opened on the first new blob
	end    int64               // its size
	open   map[string]*os.File // packs opened for reading
	// syncing is closed when the flush syncAhead started is done (syncErr its outcome);
	// dirty says blobs were appended since it started.
	syncing chan struct{}
	syncErr error
	dirty   bool
}

func openIncrStore(root string) *incrStore {
	return &incrStore{dir: filepath.Join(root, filepath.FromSlash(workspace.CacheDir), incrDir), open: map[string]*os.File{}, compactAt: 8 << 20}
}

func (s *incrStore) load() *incrIndexFile {
	idx := s.read()
	s.added = map[string]bool{}
	s.locs, s.before = idx.Blobs, map[string]bool{}
	for _, l := range idx.Blobs {
		s.before[l.Pack] = true
	}
	return idx
}

func (s *incrStore) read() *incrIndexFile {
	empty := &incrIndexFile{Version: incrVersion, Entries: map[string]*incrEntry{}, Imports: map[string]string{}, ImportSyms: map[string]incrSyms{}, Blobs: map[string]blobLoc{}}
	// The index starts with a line naming the sha256 of the rest: a damaged index is a miss,
	// never results that were not computed.
	s.base = nil
	b, err := os.ReadFile(filepath.Join(s.dir, incrIndex))
	if err != nil {
		return empty
	}
	head, body, ok := bytes.Cut(b, []byte("\n"))
	sum := sha256.Sum256(body)
	if !ok || string(head) != incrVersion+" "+hex.EncodeToString(sum[:]) {
		return empty
	}
	idx, err := decodeIndex(body)
	if err != nil || idx.Version != incrVersion || len(idx.Dropped)+len(idx.DroppedStats) > 0 {
		return empty
	}
	s.base = &incrBase{sum: hex.EncodeToString(sum[:]), entries: idx.Entries, stats: idx.Stats}
	return s.withDelta(idx)
}

// discard removes this run's pack when the run stands aside before saving.
func (s *incrStore) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.waitSyncLocked()
	if s.pack != nil {
		_ = s.pack.Close()
		_ = os.Remove(s.pack.Name())
		s.pack = nil
	}
}

// save writes the index whole (through a temporary file and a rename, so a reader sees the old
// or the new one), keeping the blobs its entries name, and removes the packs nothing names any
// more. Failures are ignored: the cache is only ever a shortcut.
func (s *incrStore) save(idx *incrIndexFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushedLocked() != nil {
		return // an index must not name bytes that may not be on disk
	}
	if s.saveDelta(idx) {
		return
	}
	used := map[string]bool{}
	for _, b := range idx.Imports {
		used[b] = true
	}
	for _, e := range idx.Entries {
		for _, c := range e.Closure {
			used[c.Blob] = true
		}
		for _, g := range e.Gen {
			if g.Blob != "" {
				used[g.Blob] = true
			}
		}
	}
	idx.Blobs = make(map[string]blobLoc, len(used))
	live := map[string]int64{}
	for b := range used {
		l, ok := s.locs[b]
		if !ok {
			return // a blob was not stored: no index rather than a wrong one
		}
		idx.Blobs[b] = l
		live[l.Pack] += l.Len
	}
	packsDir := filepath.Join(s.dir, incrPacks)
	names, _ := os.ReadDir(packsDir)
	var liveBytes, deadBytes int64
	for _, n := range names {
		if info, err := n.Info(); err == nil && (s.before[n.Name()] || live[n.Name()] > 0) {
			liveBytes += live[n.Name()]
			deadBytes += info.Size() - live[n.Name()]
		}
	}
	if deadBytes > liveBytes && deadBytes > s.compactAt {
		s.compact(idx)
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-index-*")
	if err != nil {
		return
	}
	body := encodeIndex(idx)
	sum := sha256.Sum256(body)
	_, err = fmt.Fprintf(tmp, "%s %s\n", incrVersion, hex.EncodeToString(sum[:]))
	if err == nil {
		_, err = tmp.Write(body)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || os.Rename(tmp.Name(), filepath.Join(s.dir, incrIndex)) != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	// The delta names the old index: it would be ignored, but it goes.
	_ = os.Remove(filepath.Join(s.dir, incrDelta))
	named := map[string]bool{}
	for _, l := range idx.Blobs {
		named[l.Pack] = true
	}
	for _, n := range names {
		// A pack neither index names is removed when the old index named it, or when it is an
		// hour old (a run that died); a younger one may be another run's, still being written.
		info, err := n.Info()
		if named[n.Name()] || err != nil || (!s.before[n.Name()] && time.Since(info.ModTime()) < time.Hour) {
			continue
		}
		_ = os.Remove(filepath.Join(packsDir, n.Name()))
	}
}

// compact copies the live blobs of idx into this run's pack, so that the packs holding mostly
// dead ones can go.
func (s *incrStore) compact(idx *incrIndexFile) {
	names := make([]string, 0, len(idx.Blobs))
	for b, l := range idx.Blobs {
		if s.pack == nil || l.Pack != filepath.Base(s.pack.Name()) {
			names = append(names, b)
		}
	}
	sort.Strings(names)
	moved := map[string]blobLoc{}
	for _, b := range names {
		data, err := s.readLocked(b)
		if err != nil {
			return
		}
		l, err := s.appendLocked(data)
		if err != nil {
			return
		}
		moved[b] = l
	}
	if s.pack == nil || s.pack.Sync() != nil {
		return
	}
	for b, l := range moved {
		idx.Blobs[b] = l
		s.locs[b] = l
	}
}

// put stores b under its sha256 (unless it is stored) and returns the name.
func (s *incrStore) put(b []byte) (string, error) {
	sum := sha256.Sum256(b)
	name := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.locs[name]; ok {
		return name, nil
	}
	l, err := s.appendLocked(b)
	if err != nil {
		return "", err
	}
	s.locs[name] = l
	if s.added != nil {
		s.added[name] = true
	}
	return name, nil
}

func (s *incrStore) appendLocked(b []byte) (blobLoc, error) {
	if s.pack == nil {
		dir := filepath.Join(s.dir, incrPacks)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return blobLoc{}, fmt.Errorf("lint: cache: %w", err)
		}
		f, err := os.CreateTemp(dir, "pack-*")
		if err != nil {
			return blobLoc{}, fmt.Errorf("lint: cache: %w", err)
		}
		s.pack, s.end = f, 0
		s.open[filepath.Base(f.Name())] = f
	}
	s.dirty = true
	if _, err := s.pack.WriteAt(b, s.end); err != nil {
		return blobLoc{}, fmt.Errorf("lint: cache: %w", err)
	}
	l := blobLoc{Pack: filepath.Base(s.pack.Name()), Off: s.end, Len: int64(len(b))}
	s.end += int64(len(b))
	return l, nil
}

// errBlob is a blob that is missing or does not hash to its name: the cache was damaged or
// pruned by another run, and the caller starts again without it.
var errBlob = errors.New("lint: cache: a stored file is missing or damaged")

// get reads a blob and checks it hashes to its name.
func (s *incrStore) get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readLocked(name)
}

func (s *incrStore) readLocked(name string) ([]byte, error) {
	l, f, err := s.locate(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, l.Len)
	if _, err := f.ReadAt(b, l.Off); err != nil {
		return nil, errBlob
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != name {
		return nil, errBlob
	}
	return b, nil
}

// locate returns where a blob is and its pack, opened; s.mu must be held.
func (s *incrStore) locate(name string) (blobLoc, *os.File, error) {
	l, ok := s.locs[name]
	if !ok || strings.ContainsAny(l.Pack, `/\`) || l.Pack == "" || l.Len < 0 || l.Len > 1<<30 {
		return blobLoc{}, nil, errBlob
	}
	f := s.open[l.Pack]
	if f == nil {
		var err error
		if f, err = os.Open(filepath.Join(s.dir, incrPacks, l.Pack)); err != nil {
			return blobLoc{}, nil, errBlob
		}
		s.open[l.Pack] = f
	}
	return l, f, nil
}

// syncAhead starts flushing this run's pack to disk, which save needs done before it writes
// the index: started when the last blob is stored, the flush overlaps the repository-wide rules.
func (s *incrStore) syncAhead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pack == nil || s.syncing != nil {
		return
	}
	f, done := s.pack, make(chan struct{})
	s.syncing, s.dirty = done, false
	go func() {
		defer close(done)
		s.syncErr = f.Sync()
	}()
}

// flushedLocked waits for the flush syncAhead started and flushes what was appended since;
// s.mu must be held.
func (s *incrStore) flushedLocked() error {
	if err := s.waitSyncLocked(); err != nil {
		return err
	}
	if s.pack != nil && s.dirty {
		s.dirty = false
		return s.pack.Sync()
	}
	return nil
}

// waitSyncLocked waits for the flush syncAhead started, if any, and returns its outcome; s.mu
// must be held.
func (s *incrStore) waitSyncLocked() error {
	if s.syncing == nil {
		return nil
	}
	<-s.syncing
	s.syncing = nil
	return s.syncErr
}

// close closes the packs opened.
func (s *incrStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.waitSyncLocked()
	for p, f := range s.open {
		_ = f.Close()
		delete(s.open, p)
	}
	s.pack = nil
}
