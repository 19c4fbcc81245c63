package contract

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
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
	// Without a top-level mapping there is no event to check: one finding says why, instead of
	// one per missing key.
	switch {
	case doc.Root == nil || (doc.Root.Kind == yaml.ScalarNode && doc.Root.Tag == "!!null"):
		diags.Add(diag.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, yamlsrc.RuleType,
			"the file is empty; an event is a mapping with name, domain, owner, stage and schema"))
		return nil, diags
	case doc.Root.Kind != yaml.MappingNode:
		diags.Add(diag.Errorf(doc.Pos(""), yamlsrc.RuleType,
			"the file holds %s; an event is a mapping with name, domain, owner, stage and schema", kindName(doc.Root)))
		return nil, diags
	}
	ev := &Event{Doc: doc, File: file, Dir: path.Base(path.Dir(file))}
	diags.Add(doc.Decode(ev)...)
	if ev.Major == 0 && !doc.Has("major") {
		ev.Major = 1
	}
	assignPaths(ev.Schema.Fields, "schema.fields")
	if ch := ev.Sinks.ClickHouse; ch != nil {
		for i := range ch.Views {
			for j := range ch.Views[i].Measures {
				ch.Views[i].Measures[j].Path = fmt.Sprintf("sinks.clickhouse.views[%d].measures.%s", i, ch.Views[i].Measures[j].Name)
			}
		}
	}
	return ev, diags
}

// readErr drops the absolute path from a read error: the finding's position names the file.
func readErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a single value"
}

func assignPaths(fs []Field, prefix string) {
	for i := range fs {
		fs[i].Path = fmt.Sprintf("%s[%d]", prefix, i)
		assignPaths(fs[i].Fields, fs[i].Path+".fields")
	}
}

// Files lists the event YAML files of the repository at root, relative to it and sorted, plus
// problems with the layout (files not in a <domain>/ folder). Symlinked files and folders are
// followed when they resolve inside the repository and refused (RuleOutside) when they do not.
func Files(root string) ([]string, diag.List) {
	var files []string
	var diags diag.List
	base := filepath.Join(root, Dir)
	if _, err := os.Lstat(base); os.IsNotExist(err) {
		return nil, nil
	}
	seen := map[string]bool{} // resolved folders walked, so a symlink loop ends
	var walk func(dir, logical string) error
	walk = func(dir, logical string) error {
		// WalkDir does not descend into a symlink it starts at: walk the resolved folder, naming
		// files by their path in the repository.
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		dir = real
		return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = path.Join(logical, filepath.ToSlash(rel))
			if d.Type()&fs.ModeSymlink != 0 {
				if err := Inside(root, p); err != nil {
					if errors.Is(err, ErrOutside) {
						diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, RuleOutside, "%s %v", rel, err))
					} else {
						diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, RuleRead, "cannot follow the symlink: %v", readErr(err)))
					}
					return nil
				}
				if st, err := os.Stat(p); err == nil && st.IsDir() {
					return walk(p, rel)
				}
			} else if d.IsDir() {
				return nil
			}
			if !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				return nil
			}
			if strings.Count(rel, "/") != 2 {
				diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, RuleLayout,
					"event files live at contracts/<domain>/<event>.yaml; this one is ignored"))
				return nil
			}
			files = append(files, rel)
			return nil
		})
	}
	if err := walk(base, Dir); err != nil {
		diags.Add(diag.Errorf(diag.Pos{File: Dir, Line: 1, Col: 1}, RuleRead, "cannot list contracts: %v", err))
	}
	sort.Strings(files)
	return files, diags
}

// LoadFile reads and parses one event file, f as Files names it, exactly as LoadAll does; data
// is the content read (nil when it could not be read or was too large).
func LoadFile(root, f string) (ev *Event, diags diag.List, data []byte) {
	full := filepath.Join(root, filepath.FromSlash(f))
	// A huge file is refused before it is read, so a stray dump cannot exhaust memory.
	if st, err := os.Stat(full); err == nil && st.Size() > yamlsrc.MaxFileSize {
		return nil, diag.List{diag.Errorf(diag.Pos{File: f, Line: 1, Col: 1}, yamlsrc.RuleTooLarge,
			"file is %d bytes; the limit is %d", st.Size(), yamlsrc.MaxFileSize)}, nil
	}
	data, err := ReadInside(root, full) // Files vetted it; a swap since is refused too
	if err != nil {
		return nil, diag.List{diag.Errorf(diag.Pos{File: f, Line: 1, Col: 1}, RuleRead, "cannot read the file: %v", readErr(err))}, nil
	}
	ev, diags = Parse(f, data)
	return ev, diags, data
}

// LoadAll reads every event of the repository at root. Files are parsed in parallel (YAML
// decoding is most of a large repository's load time); events and findings come back in file
// order whatever the scheduling.
func LoadAll(root string) ([]*Event, diag.List) { return loadAll(root, false) }

// LoadAllReleased is LoadAll with each event's YAML tree released (yamlsrc.Doc.Release) as soon
// as the event is decoded, for callers that read the contracts rather than check them: the trees
// outweigh the decoded events (`evctl list` on 10,000 events peaked at 1.0 GB with them, 0.4 GB
// without), and a position asked for later parses that one file again.
func LoadAllReleased(root string) ([]*Event, diag.List) { return loadAll(root, true) }

func loadAll(root string, release bool) ([]*Event, diag.List) {
	files, diags := Files(root)
	type loaded struct {
		ev    *Event
		diags diag.List
	}
	results := make([]loaded, len(files))
	load := func(i int) {
		results[i].ev, results[i].diags, _ = LoadFile(root, files[i])
		if ev := results[i].ev; release && ev != nil && ev.Doc != nil {
			ev.Doc.Release()
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(files)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(files); i = int(next.Add(1)) - 1 {
				load(i)
			}
		}()
	}
	wg.Wait()
	events := make([]*Event, 0, len(files))
	for _, r := range results {
		diags.Add(r.diags...)
		if r.ev != nil {
			events = append(events, r.ev)
		}
	}
	return events, diags
}
