package contract

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RuleOutside is the finding for a file or folder that resolves outside the repository.
const RuleOutside = "OUTSIDE_REPOSITORY"

// ErrOutside is returned for a path that resolves (through symlinks) outside the repository
// root.
var ErrOutside = errors.New("resolves outside the repository root (through a symlink); refused")

// Inside returns nil when full, symlinks resolved, lies within the repository root; ErrOutside
// when it lies elsewhere; the resolution error (e.g. not found) otherwise. One rule for files
// and folders alike: a symlink inside the repository is followed, one leading out is refused,
// so nothing outside the repository reaches lint output or a descriptor set.
func Inside(root, full string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if r, err = filepath.Abs(r); err != nil {
		return err
	}
	f, err := filepath.EvalSymlinks(full)
	if err != nil {
		return err
	}
	if f, err = filepath.Abs(f); err != nil {
		return err
	}
	rel, err := filepath.Rel(r, f)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return ErrOutside
	}
	return nil
}

// ReadInside reads a repository file after checking it resolves inside root (Inside).
func ReadInside(root, full string) ([]byte, error) {
	if err := Inside(root, full); err != nil {
		return nil, err
	}
	return os.ReadFile(full)
}

// OpenInside opens a repository file after checking it resolves inside root (Inside).
func OpenInside(root, full string) (*os.File, error) {
	if err := Inside(root, full); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(full), err)
	}
	return os.Open(full)
}
