package envplan

import (
	"bufio"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// cacheVersion changes whenever what an entry holds or means changes.
const cacheVersion = "evctl-plan-cache/1"

// CacheDir is where the planner keeps, per environment, what each event wants of the kinds
// that compile it, and the descriptor sets it built (content addressed), under the repository
// root.
const CacheDir = ".evctl/cache/plan"

// planCache is one environment's cache file: per event file, the key of what produced its
// entry and the entry.
type planCache struct {
	Version string
	// Stats are the files under contracts/ as scanned at Taken (Unix ns), so the next scan
	// reads only the files whose size or time moved (workspace.ScanTreeKnown).
	Stats   map[string]workspace.FileStat
	Taken   int64
	Entries map[string]*cacheEntry // by event file (repository path)
}

// cacheEntry is what one event file gave: its event without its schema (what the kinds that
// do not compile read), whether the environment hosts it, and its resources of the kinds that
// compile it, without their specs (the descriptor's set is in the sets folder).
type cacheEntry struct {
	Key     string
	Stub    []byte // JSON of the contract.Event, schema fields and examples left out
	ID      string
	Hosted  bool
	Desired []liteDesired
}

// liteDesired is a sink.Desired without its spec: enough to plan an unchanged resource.
type liteDesired struct {
	Event, Kind, Name, Stage, Hash string
	DependsOn                      []string
	// Entry is a descriptor's index entry; its set is sets/<sha256>.binpb in the cache.
	Entry *descstore.Entry
}

func cachePath(root, env string) string {
	return filepath.Join(root, filepath.FromSlash(CacheDir), env+".gob")
}

func setPath(root, sha string) string {
	return filepath.Join(root, filepath.FromSlash(CacheDir), "sets", sha+".binpb")
}

// loadCache reads env's cache; a missing, unreadable or other-version file is an empty cache.
func loadCache(root, env string) *planCache {
	empty := &planCache{Version: cacheVersion, Entries: map[string]*cacheEntry{}}
	f, err := os.Open(cachePath(root, env))
	if err != nil {
		return empty
	}
	defer f.Close()
	var c planCache
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&c); err != nil || c.Version != cacheVersion || c.Entries == nil {
		return empty
	}
	return &c
}

// save writes the cache atomically (a temporary file renamed over it), so a killed run leaves
// the previous cache or the new one, never half of one.
func (c *planCache) save(root, env string) error {
	return replaceFile(cachePath(root, env), env, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		if err := gob.NewEncoder(w).Encode(c); err != nil {
			return err
		}
		return w.Flush()
	})
}

// putSet stores a descriptor set under its sha256 unless it is there already.
func putSet(root, sha string, set []byte) error {
	p := setPath(root, sha)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return replaceFile(p, sha, func(f *os.File) error {
		_, err := f.Write(set)
		return err
	})
}

// replaceFile writes p through a temporary file in its directory renamed over it, so a killed
// run leaves the old file or the new one, never half of one.
func replaceFile(p, prefix string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("envplan: cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), prefix+".*.tmp")
	if err != nil {
		return fmt.Errorf("envplan: cache: %w", err)
	}
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("envplan: cache: %w", err)
	}
	return nil
}

// setLoader reads a cached set, checking it is the one named (a damaged cache is an error,
// never a wrong set published).
func setLoader(root, sha string) func() ([]byte, error) {
	return func() ([]byte, error) {
		b, err := os.ReadFile(setPath(root, sha))
		if err != nil {
			return nil, fmt.Errorf("envplan: cached set %s: %w (remove %s and plan again)", sha, err, CacheDir)
		}
		if got := descstore.SHA256(b); got != sha {
			return nil, fmt.Errorf("envplan: cached set %s is damaged (it hashes to %s); remove %s and plan again", sha, got, CacheDir)
		}
		return b, nil
	}
}

// stub is ev without what no kind that does not compile reads (its fields, examples, waivers,
// description and YAML tree): the event as those kinds see it, kept for every event.
func stub(ev *contract.Event) ([]byte, error) {
	s := *ev
	s.Schema = contract.Schema{Proto: ev.Schema.Proto}
	s.Examples, s.Waivers, s.Description, s.Doc = nil, nil, "", nil
	b, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("envplan: cache: %s: %w", ev.ID(), err)
	}
	return b, nil
}

func unstub(b []byte) (*contract.Event, error) {
	var ev contract.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("envplan: cache: %w", err)
	}
	return &ev, nil
}

func toLite(d sink.Desired) liteDesired {
	return liteDesired{Event: d.Event, Kind: d.Kind, Name: d.Name, Stage: d.Stage, Hash: d.Hash, DependsOn: d.DependsOn}
}

// globalKey is what every entry depends on besides its own file: the cache's version, evctl's
// build, the environment, evctl.yaml, consumers/ and every .proto file under contracts/ (raw
// contracts and the files they import: a change to one replans every event, which is exact and
// rare).
func globalKey(build, env string, cfg []byte, consumers, contracts map[string]workspace.FileStat, events map[string]bool) string {
	h := sha256.New()
	add := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	add(cacheVersion, build, env, workspace.ContentSum(cfg))
	for _, m := range []map[string]workspace.FileStat{consumers, contracts} {
		keys := make([]string, 0, len(m))
		for k := range m {
			// Under contracts/, only .proto files can change what an event compiles to: an
			// editor's backup or a README there replans nothing.
			if !events[k] && (!strings.HasPrefix(k, contract.Dir+"/") || strings.HasSuffix(k, ".proto")) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, m[k].Sum)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func entryKey(global, file, sum string) string {
	s := sha256.Sum256([]byte(strings.Join([]string{global, file, sum}, "\x00")))
	return hex.EncodeToString(s[:])
}
