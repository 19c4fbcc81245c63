// Package scaffold writes new files for users: a whole project (`evctl init`) and a new event
// contract (`evctl new`) with its fields numbered. It never overwrites an existing file.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed templates templates/.github templates/.pre-commit-config.yaml templates/.gitignore
var templates embed.FS

// Init writes evctl.yaml, contracts/, the GitHub workflow, the pre-commit config and a
// .gitignore keeping .evctl/ out of git into dir. Existing files are left alone and reported as
// skipped, except an existing .gitignore that does not ignore .evctl/: the entry is appended
// (and the file reported as written), since .evctl/ holds credentials.
func Init(dir string) (written, skipped []string, err error) {
	err = fs.WalkDir(templates, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, "templates/")
		dst := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(dst); err == nil {
			if rel == ".gitignore" {
				added, err := ignoreEvctl(dst)
				if err != nil {
					return err
				}
				if added {
					written = append(written, rel)
					return nil
				}
			}
			skipped = append(skipped, rel)
			return nil
		}
		data, err := templates.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := writeNew(dst, data); err != nil {
			return err
		}
		written = append(written, rel)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("init: %w", err)
	}
	keep := filepath.Join(dir, "contracts", ".gitkeep")
	if _, err := os.Stat(filepath.Join(dir, "contracts")); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
			return nil, nil, fmt.Errorf("init: %w", err)
		}
		if err := writeNew(keep, nil); err != nil {
			return nil, nil, fmt.Errorf("init: %w", err)
		}
		written = append(written, "contracts/.gitkeep")
	}
	return written, skipped, nil
}

// writeNew creates path with data, failing if it exists (O_EXCL), so nothing is overwritten.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ignoreEvctl appends "/.evctl/" to an existing .gitignore unless a line already ignores it.
func ignoreEvctl(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch strings.TrimSpace(line) {
		case ".evctl", ".evctl/", "/.evctl", "/.evctl/":
			return false, nil
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return false, err
	}
	add := "# evctl's local files (caches, dev stack, credentials)\n/.evctl/\n"
	if len(b) > 0 && b[len(b)-1] != '\n' {
		add = "\n" + add
	}
	if _, err := f.WriteString(add); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}
