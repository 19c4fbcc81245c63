package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/evctl/evctl/"

// pkgInfo is what `go list -json` says of one package (test files are not part of it: a test
// may reach up to check a lower package end to end).
type pkgInfo struct {
	ImportPath string
	Imports    []string // direct
	Deps       []string // transitive
}

// rule forbids packages under from depending on packages under any of to (by import path
// prefix, relative to the module), directly or through another package.
type rule struct {
	why  string
	from []string
	to   []string
	// direct checks only direct imports (for third-party packages the rule is about who may
	// use them, not who sits above a user).
	direct bool
}

var rules = []rule{
	{
		why:  "a sink never imports the planner, the apply engine, the environment wiring or the CLI: those sit above sinks and know them only through pkg/control/sink",
		from: []string{"pkg/control/sink"},
		to:   []string{"pkg/control/plan", "pkg/control/apply", "pkg/control/envconn", "pkg/control/envplan", "pkg/cli"},
	},
	{
		why:  "the gateway and the data-plane workers never import apply or plan",
		from: []string{"pkg/data"},
		to:   []string{"pkg/control/apply", "pkg/control/plan", "pkg/control/envplan", "pkg/cli"},
	},
	{
		why:  "contracts and storage sit at the bottom: they never import the control, data or discovery planes or the CLI",
		from: []string{"pkg/contracts", "pkg/storage"},
		to:   []string{"pkg/control", "pkg/data", "pkg/discovery", "pkg/cli", "pkg/devstack"},
	},
	{
		why:  "the control plane never imports the data or discovery planes or the CLI",
		from: []string{"pkg/control"},
		to:   []string{"pkg/data", "pkg/discovery", "pkg/cli", "pkg/devstack"},
	},
	{
		why:    "only pkg/cli knows about terminals",
		from:   []string{""}, // every package of the module but pkg/cli (see except)
		to:     []string{"golang.org/x/term", "github.com/mattn/go-isatty"},
		direct: true,
	},
}

// except lists the packages a rule's from does not cover.
var except = map[string]bool{"pkg/cli": true}

func TestImportsPointDown(t *testing.T) {
	touchSources(t)
	pkgs := list(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages: the module layout changed, update this test", len(pkgs))
	}
	for _, r := range rules {
		for _, p := range pkgs {
			rel := strings.TrimPrefix(p.ImportPath, module)
			if !under(rel, r.from) || (r.direct && except[rel]) {
				continue
			}
			deps := p.Deps
			if r.direct {
				deps = p.Imports
			}
			for _, d := range deps {
				target := d
				if !r.direct {
					if !strings.HasPrefix(d, module) {
						continue
					}
					target = strings.TrimPrefix(d, module)
				}
				if under(target, r.to) {
					t.Errorf("%s imports %s: %s", p.ImportPath, d, r.why)
				}
			}
		}
	}
}

// under reports whether path is one of prefixes or below one ("" covers everything).
func under(path string, prefixes []string) bool {
	for _, pre := range prefixes {
		if pre == "" || path == pre || strings.HasPrefix(path, pre+"/") {
			return true
		}
	}
	return false
}

// touchSources stats every Go file of the module, so `go test`'s cache (which records the files
// a test opens, not what a subprocess reads) re-runs this test when an import changes.
func touchSources(t *testing.T) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules"):
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(path, ".go"):
			_, err := os.Stat(path)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the module: %v", err)
	}
}

// list runs `go list -json` over the module's packages.
func list(t *testing.T) []pkgInfo {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-json", "github.com/evctl/evctl/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
