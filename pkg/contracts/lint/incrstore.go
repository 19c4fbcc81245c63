package lint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// The incremental cache lives in .evctl/cache/incr: one index of per-event entries and a folder
// of content-addressed blobs (each compiled file's encoding, each effective contract's source),
// named by their sha256. The index is rewritten whole (it is small: 10,000 entries weigh a few
// MB); blobs are written once and removed when no entry names them any more.
const (
	incrDir     = "incr"
	incrIndex   = "index"
	incrBlobs   = "blobs"
	incrVersion = "evctl-incr 1"
)

// incrIndexFile is what the index holds.
type incrIndexFile struct {
	Version string
	Entries map[string]*incrEntry // by event file path (contracts/feed/x.yaml)
	Imports map[string]string     // shared import path -> blob of its encoding, as last compiled
	// ImportSyms are the names each shared import declares, for the clash check.
	ImportSyms map[string]incrSyms
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

type incrStore struct{ dir string }

func openIncrStore(root string) *incrStore {
	return &incrStore{dir: filepath.Join(root, filepath.FromSlash(workspace.CacheDir), incrDir)}
}

func (s *incrStore) load() *incrIndexFile {
	empty := &incrIndexFile{Version: incrVersion, Entries: map[string]*incrEntry{}, Imports: map[string]string{}, ImportSyms: map[string]incrSyms{}}
	f, err := os.Open(filepath.Join(s.dir, incrIndex))
	if err != nil {
		return empty
	}
	defer f.Close()
	var idx incrIndexFile
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&idx); err != nil || idx.Version != incrVersion || idx.Entries == nil {
		return empty
	}
	if idx.Imports == nil {
		idx.Imports = map[string]string{}
	}
	if idx.ImportSyms == nil {
		idx.ImportSyms = map[string]incrSyms{}
	}
	return &idx
}

// save writes the index whole (through a temporary file and a rename, so a reader sees the old
// or the new one) and removes blobs nothing names any more. Failures are ignored: the cache
// is only ever a shortcut.
func (s *incrStore) save(idx *incrIndexFile) {
	if err := os.MkdirAll(filepath.Join(s.dir, incrBlobs), 0o755); err != nil {
		return
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-index-*")
	if err != nil {
		return
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = gob.NewEncoder(w).Encode(idx)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || os.Rename(tmp.Name(), filepath.Join(s.dir, incrIndex)) != nil {
		_ = os.Remove(tmp.Name())
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
	names, _ := os.ReadDir(filepath.Join(s.dir, incrBlobs))
	for _, n := range names {
		if !used[n.Name()] {
			_ = os.Remove(filepath.Join(s.dir, incrBlobs, n.Name()))
		}
	}
}

// put stores b under its sha256 (unless it is there) and returns the name.
func (s *incrStore) put(b []byte) (string, error) {
	sum := sha256.Sum256(b)
	name := hex.EncodeToString(sum[:])
	p := filepath.Join(s.dir, incrBlobs, name)
	if _, err := os.Stat(p); err == nil {
		return name, nil
	}
	if err := os.MkdirAll(filepath.Join(s.dir, incrBlobs), 0o755); err != nil {
		return "", fmt.Errorf("lint: cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, incrBlobs), ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("lint: cache: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("lint: cache: %w", err)
	}
	return name, nil
}

// errBlob is a blob that is missing or does not hash to its name: the cache was damaged or
// pruned by another run, and the caller starts again without it.
var errBlob = errors.New("lint: cache: a stored file is missing or damaged")

// get reads a blob and checks it hashes to its name.
func (s *incrStore) get(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\.`) {
		return nil, errBlob
	}
	b, err := os.ReadFile(filepath.Join(s.dir, incrBlobs, name))
	if err != nil {
		return nil, errBlob
	}
	sum := sha256.Sum256(b)
	if !bytes.Equal([]byte(hex.EncodeToString(sum[:])), []byte(name)) {
		return nil, errBlob
	}
	return b, nil
}
