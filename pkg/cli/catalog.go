package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/discovery/backstage"
)

// catalogResult is what `evctl catalog` wrote (its JSON form).
type catalogResult struct {
	Dir     string   `json:"dir"`
	Files   []string `json:"files"`
	Removed []string `json:"removed"`
	Stale   []string `json:"stale,omitempty"` // with --check: files that differ
}

func newCatalogCmd(app *App) *cobra.Command {
	var dir string
	var check bool
	cmd := &cobra.Command{
		Use: "catalog [--dir DIR]",
		Example: `  evctl catalog
  evctl catalog --dir docs/events
  # in CI: fail when the catalog is out of date
  evctl catalog --check`,
		Short: "Write Backstage catalog entities: an API per event, a Group per team, the System and a Location",
		Long: "Writes catalog-info.yaml (a Location listing the others), system.yaml, groups/<team>.yaml and\n" +
			"apis/<domain>.<event>.yaml under --dir (relative to the repository root). The System is\n" +
			"named and owned by evctl.yaml's `catalog: {system, owner}` (default: events, owned by the\n" +
			"first team alphabetically). Files evctl wrote for events or teams that are gone are removed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			settings, err := backstage.SettingsOf(ws.Project)
			if err != nil {
				return err
			}
			files, err := backstage.Catalog(ws.Project, ws.Events, settings, func(ev *contract.Event) (string, error) {
				out, ds := ws.Effective(ev)
				if out == nil || ds.HasErrors() {
					return "", fmt.Errorf("the effective contract cannot be built; run `evctl lint`")
				}
				return string(out.Source), nil
			}, ws.Consumers...)
			if err != nil {
				return err
			}
			abs := dir
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(ws.Root(), dir)
			}
			res, err := writeCatalog(abs, files, check)
			if err != nil {
				return err
			}
			res.Dir = filepath.ToSlash(dir)
			if app.Globals.Output == "json" {
				enc := json.NewEncoder(app.IO.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return err
				}
			}
			if check {
				if len(res.Stale) > 0 {
					if app.Globals.Output != "json" {
						fmt.Fprintf(app.IO.ErrOut, "evctl: %s is out of date (%s); run `evctl catalog`\n", res.Dir, strings.Join(res.Stale, ", "))
					}
					return silent(ExitFailure)
				}
				return nil
			}
			if app.Globals.Output != "json" {
				fmt.Fprintf(app.IO.Out, "wrote %s/ (%d entities: %d APIs, %d components, %d groups, 1 system, 1 location)\n",
					res.Dir, len(files), len(ws.Events), len(ws.Consumers), len(files)-len(ws.Events)-len(ws.Consumers)-2)
				for _, r := range res.Removed {
					fmt.Fprintf(app.IO.Out, "removed %s/%s\n", res.Dir, r)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "catalog", "folder to write, relative to the repository root")
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 if the folder is out of date, without writing")
	return cmd
}

// writeCatalog writes files under dir and removes the .yaml files evctl wrote earlier (they
// start with backstage.Header) that are no longer wanted; files without the header are never
// touched. With check it only compares.
func writeCatalog(dir string, files []backstage.File, check bool) (*catalogResult, error) {
	res := &catalogResult{Files: []string{}, Removed: []string{}}
	want := map[string][]byte{}
	for _, f := range files {
		b, err := backstage.Marshal(f.Entity)
		if err != nil {
			return nil, err
		}
		want[f.Path] = b
		res.Files = append(res.Files, f.Path)
	}
	var stale []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if _, ok := want[rel]; ok {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.HasPrefix(b, []byte(backstage.Header)) {
			stale = append(stale, rel)
		}
		return nil
	})
	sort.Strings(stale)
	if check {
		res.Stale = append(res.Stale, stale...)
		for _, f := range res.Files {
			have, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			if !bytes.Equal(have, want[f]) {
				res.Stale = append(res.Stale, f)
			}
		}
		sort.Strings(res.Stale)
		return res, nil
	}
	for _, f := range res.Files {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		if err := os.WriteFile(p, want[f], 0o644); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
	}
	for _, rel := range stale {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return nil, fmt.Errorf("catalog: remove %s: %w", rel, err)
		}
		res.Removed = append(res.Removed, rel)
	}
	return res, nil
}
