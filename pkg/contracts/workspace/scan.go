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
	base := filepath.Join(root, filepath.FromSlash(dir))
	sums = map[string]string{}
	if st, err := os.Lstat(base); os.IsNotExist(err) {
		return sums, true
	} else if err != nil || !st.IsDir() {
		return nil, false
	}
	var rels, paths []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
		case !d.Type().IsRegular():
			return errDoubt
		default:
			rel, _ := filepath.Rel(root, p)
			rels = append(rels, filepath.ToSlash(rel))
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, false
	}
	out := make([]string, len(paths))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range paths {
		g.Go(func() error {
			out[i] = contentSum(paths[i])
			return nil
		})
	}
	_ = g.Wait()
	for i, r := range rels {
		if out[i] == "" {
			return nil, false
		}
		sums[r] = out[i]
	}
	return sums, true
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
