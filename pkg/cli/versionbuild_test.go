package cli_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionReadsBuildInfo builds evctl with VCS stamping from a clone of this repository (as
// a release build or `go build` in a clone does; the go command stamps nothing in a linked git
// worktree, whose .git is a file) and checks that `evctl version` reports the commit the binary
// was built from, read from its build info.
func TestVersionReadsBuildInfo(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse (the test runs in evctl's git work tree): %v", err)
	}
	clone := filepath.Join(t.TempDir(), "evctl")
	if out, err := exec.Command("git", "clone", "-q", "--no-hardlinks", strings.TrimSpace(string(root)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", clone, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "evctl")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/evctl")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("evctl version: %v\n%s", err, out)
	}
	var v struct {
		Version string `json:"version"`
		Commit  string `json:"commit"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if v.Commit != strings.TrimSpace(string(head)) || v.Version == "" {
		t.Fatalf("evctl version reports %+v, built at commit %s", v, head)
	}
}
