package consumer

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/yamlsrc"
)

// Dir is the folder of the contracts repository that holds the consumers.
const Dir = "consumers"

// RuleLayout reports a file in consumers/ that is not consumers/<name>.yaml.
const RuleLayout = "REPO_LAYOUT"

// Parse reads one consumer from data. file is the path relative to the repository root
// ("consumers/crm_nudges.yaml"). The consumer is nil only when there is nothing to read.
func Parse(file string, data []byte) (*Consumer, diag.List) {
	doc, diags := yamlsrc.Parse(file, data)
	if doc == nil {
		return nil, diags
	}
	switch {
	case doc.Root == nil || (doc.Root.Kind == yaml.ScalarNode && doc.Root.Tag == "!!null"):
		diags.Add(diag.Errorf(diag.Pos{File: file, Line: 1, Col: 1}, yamlsrc.RuleType,
			"the file is empty; a consumer is a mapping with name, owner, events, transform and deliver"))
		return nil, diags
	case doc.Root.Kind != yaml.MappingNode:
		diags.Add(diag.Errorf(doc.Pos(""), yamlsrc.RuleType,
			"a consumer is a mapping with name, owner, events, transform and deliver"))
		return nil, diags
	}
	c := &Consumer{Doc: doc, File: file, src: data}
	diags.Add(doc.Decode(c)...)
	return c, diags
}

// LoadAll reads consumers/*.yaml of the repository at root, in file order. A repository without
// a consumers folder has no consumers.
func LoadAll(root string) ([]*Consumer, diag.List) {
	var diags diag.List
	base := filepath.Join(root, Dir)
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, diag.List{diag.Errorf(diag.Pos{File: Dir, Line: 1, Col: 1}, contract.RuleRead, "cannot list consumers: %v", err)}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []*Consumer
	for _, e := range entries {
		rel := path.Join(Dir, e.Name())
		full := filepath.Join(base, e.Name())
		if !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			if st, err := os.Stat(full); err == nil && st.IsDir() {
				diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, RuleLayout,
					"consumer files live at consumers/<name>.yaml; this folder is ignored"))
			}
			continue
		}
		if st, err := os.Stat(full); err == nil && st.Size() > yamlsrc.MaxFileSize {
			diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, yamlsrc.RuleTooLarge,
				"file is %d bytes; the limit is %d", st.Size(), yamlsrc.MaxFileSize))
			continue
		}
		data, err := contract.ReadInside(root, full)
		if err != nil {
			rule := contract.RuleRead
			if errors.Is(err, contract.ErrOutside) {
				rule = contract.RuleOutside
			}
			diags.Add(diag.Errorf(diag.Pos{File: rel, Line: 1, Col: 1}, rule, "cannot read the file: %v", readErr(err)))
			continue
		}
		c, ds := Parse(rel, data)
		diags.Add(ds...)
		if c != nil {
			out = append(out, c)
		}
	}
	return out, diags
}

func readErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
