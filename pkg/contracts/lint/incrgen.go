package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/evoptions"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// GenResult is what WriteGen did to gen/proto.
type GenResult struct {
	// Files is how many files gen/proto holds for the contracts.
	Files int `json:"files"`
	// Written and Removed are repository paths (gen/proto/...), sorted.
	Written []string `json:"written"`
	Removed []string `json:"removed"`
	// Unchanged counts the files left alone (their bytes and modification times kept).
	Unchanged int `json:"unchanged"`
}

// WriteGen makes gen/proto exactly what lint expects of it (`evctl generate`): files whose
// content differs are written (through a temporary file and a rename), .proto files no contract
// produces are removed, and the others are not touched, so their modification times and git
// stay quiet. Which files differ comes from the sha256 each cached entry records for what it
// generates, compared with a scan of gen/proto that reads only the files whose size or time
// changed since the last scan: after one edit on 10,000 events, one file is read and written,
// not 10,000. Call it only on a report without errors.
func (r *IncrReport) WriteGen() (*GenResult, error) {
	if r.full != nil {
		return WriteGenFiles(r.root, GenFiles(r.full.Compiled, r.full.Outputs))
	}
	want := map[string]incrGen{}
	for _, e := range r.entries {
		for _, g := range e.Gen {
			if _, ok := want[g.Path]; !ok {
				want[g.Path] = g
			}
		}
	}
	defer r.store.close()
	idx := r.store.read()
	stats, _, ok := workspace.ScanTreeKnown(r.root, workspace.GenDir, idx.Stats, idx.StatsTaken)
	files := make(map[string][]byte, len(want))
	res := &GenResult{Files: len(want), Written: []string{}, Removed: []string{}}
	for p, g := range want {
		if st, known := stats[workspace.GenDir+"/"+p]; ok && known && st.Sum == g.Sum {
			res.Unchanged++
			continue
		}
		b, err := genBytes(r.root, r.store, g)
		if errors.Is(err, errBlob) && r.again != nil {
			// The cache lost a file meanwhile: generate from the whole pipeline.
			full, ferr := r.again()
			if ferr != nil {
				return nil, ferr
			}
			if full.Diags.HasErrors() {
				return nil, fmt.Errorf("generate: the repository changed while it was generated; run again")
			}
			return full.WriteGen()
		}
		if err != nil {
			return nil, err
		}
		files[p] = b
	}
	if !ok {
		// A symlink or special file under gen/: compared and removed as the whole pipeline does.
		return WriteGenFiles(r.root, files)
	}
	if err := writeGenChanged(r.root, files, res); err != nil {
		return nil, err
	}
	for gp := range stats {
		p := strings.TrimPrefix(gp, workspace.GenDir+"/")
		if _, ok := want[p]; !ok && strings.HasSuffix(p, ".proto") {
			if err := os.Remove(filepath.Join(r.root, filepath.FromSlash(gp))); err != nil {
				return nil, fmt.Errorf("generate: %w", err)
			}
			res.Removed = append(res.Removed, gp)
		}
	}
	sort.Strings(res.Removed)
	return res, nil
}

// genBytes is the content generate writes for g, read from the cache (an effective contract),
// evctl (its options) or the repository (a shared .proto), checked against the sum recorded.
func genBytes(root string, store *incrStore, g incrGen) ([]byte, error) {
	var b []byte
	switch src, isOption := evoptions.Source(g.Path); {
	case g.Blob != "":
		var err error
		if b, err = store.get(g.Blob); err != nil {
			return nil, err
		}
	case isOption:
		b = src
	default:
		var err error
		if b, err = contract.ReadInside(root, filepath.Join(root, contract.Dir, filepath.FromSlash(g.Path))); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	if workspace.ContentSum(b) != g.Sum {
		return nil, fmt.Errorf("generate: %s changed while it was generated; run again", g.Path)
	}
	return b, nil
}

// WriteGenFiles is WriteGen from the whole pipeline's files (GenFiles): each is compared with
// what gen/ holds, and written when it differs.
func WriteGenFiles(root string, want map[string][]byte) (*GenResult, error) {
	base := filepath.Join(root, filepath.FromSlash(workspace.GenDir))
	res := &GenResult{Files: len(want), Written: []string{}, Removed: []string{}}
	changed := map[string][]byte{}
	for p, b := range want {
		if old, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(p))); err == nil && string(old) == string(b) {
			res.Unchanged++
			continue
		}
		changed[p] = b
	}
	if err := writeGenChanged(root, changed, res); err != nil {
		return nil, err
	}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		if _, ok := want[filepath.ToSlash(rel)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
			res.Removed = append(res.Removed, workspace.GenDir+"/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	sort.Strings(res.Removed)
	return res, nil
}

// writeGenChanged writes files (by path under gen/proto) atomically, in path order.
func writeGenChanged(root string, files map[string][]byte, res *GenResult) error {
	base := filepath.Join(root, filepath.FromSlash(workspace.GenDir))
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dst := filepath.Join(base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, files[p], 0o644); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		res.Written = append(res.Written, workspace.GenDir+"/"+p)
	}
	return nil
}
