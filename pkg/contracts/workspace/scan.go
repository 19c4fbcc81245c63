package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// BuildID identifies the running evctl binary (its Go build ID, else the sha256 of the file):
// every cached result is keyed by it, so a new evctl never reads an old one's results.
func BuildID() (string, bool) { return executableID() }

// ScanTree returns the sha256 (hex) of every regular file under root/dir, by its repository
// path with forward slashes ("contracts/feed/a.yaml"), read and hashed on every core. ok is
// false when a symlink, a special file or an unreadable file is among them (the incremental
// cache then stands aside: what a link points to is not what was hashed). An absent dir is an
// empty tree.
func ScanTree(root, dir string) (sums map[string]string, ok bool) {
	stats, _, ok := ScanTreeKnown(root, dir, nil, 0)
	if !ok {
		return nil, false
	}
	sums = make(map[string]string, len(stats))
	for p, st := range stats {
		sums[p] = st.Sum
	}
	return sums, true
}

// FileStat is what a scan remembers of a file, to trust its sum the next time without reading it.
type FileStat struct {
	Size  int64
	Mtime int64 // Unix nanoseconds
	Mode  uint32
	Sum   string
	// Ino and Ctime (Unix nanoseconds) are the inode and change time where the system has
	// them, else 0.
	Ino   uint64
	Ctime int64
}

// ScanTreeKnown is ScanTree that reads only the files it cannot vouch for: a file of known whose
// size, mode, modification time, inode and change time are unchanged keeps its sum, as git's
// index does, unless it was modified or changed less than two seconds before taken, the Unix
// nanoseconds when known was scanned (a change within the file system's clock resolution could
// then hide behind the same time).
// read counts the files read and hashed.
func ScanTreeKnown(root, dir string, known map[string]FileStat, taken int64) (stats map[string]FileStat, read int, ok bool) {
	return ScanTreeLazy(root, dir, known, taken, nil)
}

// ScanTreeLazy is ScanTreeKnown that leaves the files lazy picks (among those it cannot vouch
// for) unread: their stats come back with Sum "" and count as read, for a caller that reads
// them anyway and fills in their sums (ContentSum of what it read; the stat was taken first, so
// a change in between shows at the next scan). lint's check of a fresh checkout reads every
// event file to load it; hashing each in the scan as well read it twice.
func ScanTreeLazy(root, dir string, known map[string]FileStat, taken int64, lazy func(rel string) bool) (stats map[string]FileStat, read int, ok bool) {
	base := filepath.Join(root, filepath.FromSlash(dir))
	stats = make(map[string]FileStat, len(known))
	if st, err := os.Lstat(base); os.IsNotExist(err) {
		return stats, 0, true
	} else if err != nil || !st.IsDir() {
		return nil, 0, false
	}
	// The folders under base are walked on every core (a stat per file is most of a scan of
	// 10,000 unchanged files); each walk keeps its own results, merged after.
	top, err := os.ReadDir(base)
	if err != nil {
		return nil, 0, false
	}
	parts := make([]scanPart, len(top)+1)
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, d := range top {
		if !d.IsDir() {
			continue
		}
		g.Go(func() error {
			return filepath.WalkDir(filepath.Join(base, d.Name()), parts[i].visit(root, known, taken, lazy))
		})
	}
	// Files (and anything else) directly under base.
	visit := parts[len(top)].visit(root, known, taken, lazy)
	for _, d := range top {
		if !d.IsDir() {
			if err := visit(filepath.Join(base, d.Name()), d, nil); err != nil {
				_ = g.Wait()
				return nil, 0, false
			}
		}
	}
	if g.Wait() != nil {
		return nil, 0, false
	}
	var rels, paths []string
	var todo []FileStat
	unread := 0
	for _, p := range parts {
		for r, st := range p.trusted {
			stats[r] = st
		}
		for r, st := range p.unread {
			stats[r] = st
		}
		unread += len(p.unread)
		rels = append(rels, p.rels...)
		paths = append(paths, p.paths...)
		todo = append(todo, p.todo...)
	}
	for i := range paths {
		g.Go(func() error {
			todo[i].Sum = contentSum(paths[i])
			return nil
		})
	}
	_ = g.Wait()
	for i, r := range rels {
		if todo[i].Sum == "" {
			return nil, 0, false
		}
		stats[r] = todo[i]
	}
	return stats, len(rels) + unread, true
}

// scanPart is what one walk of ScanTreeKnown found: files whose known stat stands, and files to
// read.
type scanPart struct {
	trusted     map[string]FileStat
	unread      map[string]FileStat // left unread (lazy), Sum ""
	rels, paths []string
	todo        []FileStat
}

func (sp *scanPart) visit(root string, known map[string]FileStat, taken int64, lazy func(string) bool) fs.WalkDirFunc {
	sp.trusted, sp.unread = map[string]FileStat{}, map[string]FileStat{}
	return func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
		case !d.Type().IsRegular():
			return errDoubt
		default:
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			st := FileStat{Size: info.Size(), Mtime: info.ModTime().UnixNano(), Mode: uint32(info.Mode())}
			st.Ino, st.Ctime = statID(info)
			r := filepath.ToSlash(rel)
			if k, ok := known[r]; ok && k.Size == st.Size && k.Mtime == st.Mtime && k.Mode == st.Mode && k.Ino == st.Ino && k.Ctime == st.Ctime &&
				max(st.Mtime, st.Ctime) < taken-2e9 && k.Sum != "" {
				sp.trusted[r] = k
				return nil
			}
			if lazy != nil && lazy(r) {
				sp.unread[r] = st
				return nil
			}
			sp.rels = append(sp.rels, r)
			sp.paths = append(sp.paths, p)
			sp.todo = append(sp.todo, st)
		}
		return nil
	}
}

// ContentSum is the hex sha256 of b, as ScanTree names a file's content.
func ContentSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// contentSum is the hex sha256 of a regular file's content, or "".
func contentSum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
