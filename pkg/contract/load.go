package contract

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/diag"
	"github.com/evctl/evctl/pkg/yamlsrc"
)

// Rule IDs for problems found while reading contract files.
const (
	RuleRead   = "FILE_READ"
	RuleLayout = "REPO_LAYOUT"
)

// Dir is the folder of the contracts repository that holds the events.
const Dir = "contracts"

// Parse reads one event from data. file is the path relative to the repository root
// ("contracts/feed/video_played.yaml"). It returns the event (possibly partial) and every problem
// found; the event is nil only when the YAML could not be parsed at all.
func Parse(file string, data []byte) (*Event, diag.List) {
	doc, diags := yamlsrc.Parse(file, data)
	if doc == nil {
		return nil, diags
	}
	ev := &Event{Doc: doc, File: file, Dir: path.Base(path.Dir(file))}
	diags.Add(doc.Decode(ev)...)
	if ev.Major == 0 && !doc.Has("major") {
		ev.Major = 1
	}
	assignPaths(ev.Schema.Fields, "schema.fields")
	return ev, diags
}

func assignPaths(fs []Field, prefix string) {
	for i := range fs {
		fs[i].Path = fmt.Sprintf("%s[%d]", prefix, i)
		assignPaths(fs[i].Fields, fs[i].Path+".fields")
	}
}

// Files lists the event YAML files of the repository at root, relative to it and sorted, plus
// problems with the layout (files not in a <domain>/ folder).
func Files(root string) ([]string, diag.List) {
	var files []string
	var diags diag.List
	base := filepath.Join(root, Dir)
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == base && os.IsNotExist(err) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if strings.Count(rel, "/") != 2 {
			diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, RuleLayout,
				"event files live at contracts/<domain>/<event>.yaml; this one is ignored"))
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		diags.Add(diag.Errorf(diag.Pos{File: Dir}, RuleRead, "cannot list contracts: %v", err))
	}
	sort.Strings(files)
	return files, diags
}

// LoadAll reads every event of the repository at root.
func LoadAll(root string) ([]*Event, diag.List) {
	files, diags := Files(root)
	events := make([]*Event, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			diags.Add(diag.Errorf(diag.Pos{File: f}, RuleRead, "%v", err))
			continue
		}
		ev, ds := Parse(f, data)
		diags.Add(ds...)
		if ev != nil {
			events = append(events, ev)
		}
	}
	return events, diags
}
