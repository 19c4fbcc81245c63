package workspace

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// CacheDir holds results evctl can reuse, addressed by the content of everything that produced
// them (as Go's build cache and buf's do). It is local state: .evctl/ is gitignored.
const CacheDir = ".evctl/cache"

// Cache kinds: what a cached result is and which inputs its key covers.
const (
	// CacheBuild is the FileDescriptorSet of `evctl build`: evctl.yaml and contracts/.
	CacheBuild = "build"
	// CacheLint is "no findings" from `evctl lint`: also gen/proto and .github/CODEOWNERS,
	// which lint compares with what it would write.
	CacheLint = "lint"
)

const cacheMagic = "evctl-cache 1"

// Cache is one entry of the cache: a kind and the key of its inputs. Only results without any
// finding are stored, so a hit stands for a clean run; anything unusual (a symlink or special
// file among the inputs, an unreadable file, a damaged entry) means no cache and the full run.
type Cache struct {
	dir  string
	kind string
	key  string
	keyf func() (string, bool)
}

// OpenCache hashes the inputs of a command run in the repository whose evctl.yaml Find returns
// for explicit and dir: the evctl binary, today's date (waivers expire), the repository root,
// evctl.yaml and every file under contracts/, plus for CacheLint every file under gen/proto and
// .github/CODEOWNERS. ok is false when the inputs cannot be hashed with certainty.
func OpenCache(explicit, dir, kind, today string) (c *Cache, ok bool) {
	path, err := config.Find(explicit, dir)
	if err != nil {
		return nil, false
	}
	root := filepath.Dir(path)
	keyf := func() (string, bool) { return inputsKey(root, path, kind, today) }
	key, ok := keyf()
	if !ok {
		return nil, false
	}
	return &Cache{dir: filepath.Join(root, filepath.FromSlash(CacheDir)), kind: kind, key: key, keyf: keyf}, true
}

// Key is the hex sha256 of the inputs.
func (c *Cache) Key() string { return c.key }

func (c *Cache) file() string { return filepath.Join(c.dir, c.kind+"-"+c.key) }

// Exists reports whether an entry is stored for these inputs (Get still checks it whole).
func (c *Cache) Exists() bool {
	_, err := os.Stat(c.file())
	return err == nil
}

// Get returns the stored result and the number of events it covers.
func (c *Cache) Get() (payload []byte, events int, ok bool) {
	b, err := os.ReadFile(c.file())
	if err != nil {
		return nil, 0, false
	}
	head, payload, found := bytes.Cut(b, []byte("\n"))
	if !found {
		return nil, 0, false
	}
	f := strings.Fields(string(head))
	// evctl-cache 1 <kind> <key> <sha256 of payload> <events>
	if len(f) != 6 || f[0]+" "+f[1] != cacheMagic || f[2] != c.kind || f[3] != c.key {
		return nil, 0, false
	}
	sum := sha256.Sum256(payload)
	if hex.EncodeToString(sum[:]) != f[4] {
		return nil, 0, false
	}
	events, err = strconv.Atoi(f[5])
	if err != nil || events < 0 {
		return nil, 0, false
	}
	return payload, events, true
}

// Put stores a clean result, unless the inputs changed while it was computed (then it may not be
// theirs). Older entries of the same kind are removed; failures are ignored: the cache is only
// ever a shortcut.
func (c *Cache) Put(payload []byte, events int) {
	if key, ok := c.keyf(); !ok || key != c.key {
		return
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return
	}
	sum := sha256.Sum256(payload)
	tmp, err := os.CreateTemp(c.dir, ".tmp-"+c.kind+"-*")
	if err != nil {
		return
	}
	err = tmp.Chmod(0o644)
	if err == nil {
		_, err = fmt.Fprintf(tmp, "%s %s %s %s %d\n", cacheMagic, c.kind, c.key, hex.EncodeToString(sum[:]), events)
	}
	if err == nil {
		_, err = tmp.Write(payload)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || os.Rename(tmp.Name(), c.file()) != nil {
		_ = os.Remove(tmp.Name())
		return
	}
	old, _ := filepath.Glob(filepath.Join(c.dir, c.kind+"-*"))
	for _, p := range old {
		if p != c.file() {
			_ = os.Remove(p)
		}
	}
}

func inputsKey(root, config, kind, today string) (string, bool) {
	exe, ok := executableID()
	if !ok {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00kind %s\x00exe %s\x00today %s\x00root %s\x00", cacheMagic, kind, exe, today, root)
	if !hashFile(h, "config", config, false) {
		return "", false
	}
	tree := []string{contract.Dir}
	switch kind {
	case CacheBuild:
	case CacheLint:
		tree = append(tree, GenDir)
		if !hashFile(h, "file", filepath.Join(root, ".github", "CODEOWNERS"), true) {
			return "", false
		}
	default:
		return "", false
	}
	for _, t := range tree {
		if !hashTree(h, root, t) {
			return "", false
		}
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// hashFile adds a file's name, size and content hash (fileSum); an absent file is recorded as
// such when optional, else it is a doubt.
func hashFile(h hash.Hash, tag, p string, optional bool) bool {
	if _, err := os.Lstat(p); optional && os.IsNotExist(err) {
		fmt.Fprintf(h, "%s %s absent\x00", tag, p)
		return true
	}
	sum := fileSum(p)
	if sum == nil {
		return false
	}
	fmt.Fprintf(h, "%s %s %s\x00", tag, p, sum)
	return true
}

// hashTree adds every file under root/dir in lexical order: its name, size and the sha256 of
// its content, the files read and hashed on every core (a repository of 1,200 events has 2,400
// files under contracts/ and gen/proto, and lint hashes them again before storing). Symlinks
// and special files are doubts: what they point to is not what was hashed.
func hashTree(h hash.Hash, root, dir string) bool {
	base := filepath.Join(root, filepath.FromSlash(dir))
	if st, err := os.Lstat(base); os.IsNotExist(err) {
		fmt.Fprintf(h, "tree %s absent\x00", dir)
		return true
	} else if err != nil || !st.IsDir() {
		return false
	}
	fmt.Fprintf(h, "tree %s\x00", dir)
	type entry struct {
		rel, path string
		dir       bool
		sum       []byte // "size\x00sha256", nil when the file could not be hashed
	}
	var entries []entry
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			entries = append(entries, entry{rel: filepath.ToSlash(rel), dir: true})
		case !d.Type().IsRegular():
			return errDoubt
		default:
			entries = append(entries, entry{rel: filepath.ToSlash(rel), path: p})
		}
		return nil
	})
	if err != nil {
		return false
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range entries {
		if !entries[i].dir {
			g.Go(func() error { entries[i].sum = fileSum(entries[i].path); return nil })
		}
	}
	_ = g.Wait()
	for _, e := range entries {
		if e.dir {
			fmt.Fprintf(h, "dir %s\x00", e.rel)
			continue
		}
		if e.sum == nil {
			return false
		}
		fmt.Fprintf(h, "file %s %s\x00", e.rel, e.sum)
	}
	return true
}

// errDoubt stops a walk at an input the cache cannot vouch for.
var errDoubt = errors.New("not a regular file")

// fileSum is "<size> <sha256>" of a regular file, or nil.
func fileSum(p string) []byte {
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.Copy(h, f); err != nil || n != st.Size() {
		return nil
	}
	return fmt.Appendf(nil, "%d %x", st.Size(), h.Sum(nil))
}

var exeOnce struct {
	sync.Once
	id string
	ok bool
}

// executableID identifies the running evctl binary: its Go build ID (a hash of everything it was
// linked from) when the binary is ELF, else the sha256 of the whole file.
func executableID() (string, bool) {
	exeOnce.Do(func() {
		p, err := os.Executable()
		if err != nil {
			return
		}
		if f, err := elf.Open(p); err == nil {
			defer f.Close()
			if s := f.Section(".note.go.buildid"); s != nil {
				if b, err := s.Data(); err == nil && len(b) > 16 {
					sum := sha256.Sum256(b)
					exeOnce.id, exeOnce.ok = "buildid:"+hex.EncodeToString(sum[:]), true
					return
				}
			}
		}
		f, err := os.Open(p)
		if err != nil {
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return
		}
		exeOnce.id, exeOnce.ok = "sha256:"+hex.EncodeToString(h.Sum(nil)), true
	})
	return exeOnce.id, exeOnce.ok
}
