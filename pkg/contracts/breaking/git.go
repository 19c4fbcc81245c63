package breaking

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

// FromGit loads the contracts as they were at ref (a commit, branch or tag) of the git
// repository that holds root (the folder of evctl.yaml). It reads git objects only: the user's
// work tree and index are never touched. A ref at which the repository had no evctl.yaml is an
// empty baseline (every event is new). Close the baseline when done.
//
// Only what can differ is loaded: git names the files that changed between ref and the work
// tree, and unless evctl.yaml changed (which can change every contract), the baseline holds just
// those events; Scope lists them so the caller can load the same few on the current side.
func FromGit(ctx context.Context, root, ref string) (*Baseline, error) {
	name := "git " + ref
	top, err := git(ctx, root, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("breaking: %s is not in a git repository: %w", root, err)
	}
	top = strings.TrimSpace(top)
	commit, err := git(ctx, root, nil, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("breaking: git ref %q does not name a commit", ref)
	}
	commit = strings.TrimSpace(commit)
	prefix, err := relDir(top, root)
	if err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	g := &gitTree{top: top, prefix: prefix, commit: commit, root: root}
	listed, err := g.lines(ctx, "ls-tree", "-r", "--name-only", "-z", commit, "--", g.full(config.FileName), g.full(contract.Dir))
	if err != nil {
		return nil, fmt.Errorf("breaking: git ls-tree %s: %w", ref, err)
	}
	tmp, err := os.MkdirTemp("", "evctl-baseline-")
	if err != nil {
		return nil, fmt.Errorf("breaking: %w", err)
	}
	b := &Baseline{Name: name, tmp: tmp, side: &side{events: map[string]*event{}}}
	if !contains(listed, g.full(config.FileName)) {
		return b, nil // no evctl.yaml at that commit: nothing to compare against
	}
	scope, err := g.scope(ctx)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("breaking: git diff %s: %w", ref, err)
	}
	b.scope = scope
	var present []string
	for _, p := range listed {
		rel := g.rel(p)
		if scope == nil || rel == config.FileName || strings.HasSuffix(rel, ".proto") || scope[rel] {
			present = append(present, p)
		}
	}
	var archive bytes.Buffer
	if _, err := git(ctx, top, &archive, append([]string{"archive", "--format=tar", commit, "--"}, present...)...); err != nil {
		b.Close()
		return nil, fmt.Errorf("breaking: git archive %s: %w", ref, err)
	}
	if err := untar(&archive, tmp); err != nil {
		b.Close()
		return nil, fmt.Errorf("breaking: extract %s: %w", ref, err)
	}
	ws, err := workspace.Open(filepath.Join(tmp, filepath.FromSlash(g.full(config.FileName))), "")
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("breaking: baseline %s: %w", name, err)
	}
	b.side = newWorkspaceSide(ws, nil)
	return b, nil
}

// git runs git in dir; with out set, stdout goes there and the returned string is empty.
func git(ctx context.Context, dir string, out io.Writer, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// The user's git config must not turn archive into something else (e.g. filters on export).
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if out != nil {
		cmd.Stdout = out
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && stderr.Len() > 0 {
			return "", errors.New(strings.TrimSpace(stderr.String()))
		}
		return "", err
	}
	return stdout.String(), nil
}

// relDir returns dir relative to top, with forward slashes ("" when equal).
func relDir(top, dir string) (string, error) {
	t, err := filepath.EvalSymlinks(top)
	if err != nil {
		return "", err
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(t, d)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the git work tree %s", dir, top)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

// untar writes the regular files of a tar stream under dir. Anything else (links, devices,
// paths leaving dir) is skipped: the archive comes from the user's history, not from us.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
