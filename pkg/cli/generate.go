package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/compile"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
)

func newGenerateCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use: "generate",
		Example: `  # write gen/proto/** from the contracts (commit it with them)
  evctl generate`,
		Short: "Write gen/proto/** from the contracts (platform fields injected)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			rep := lint.Check(cmd.Context(), ws, lint.Options{SkipGenFresh: true})
			if err := app.failOnDiags(rep.Diags); err != nil {
				return err
			}
			res, err := writeGen(ws, rep)
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				return json.NewEncoder(app.IO.Out).Encode(res)
			}
			for _, f := range res.Written {
				fmt.Fprintf(app.IO.Out, "wrote   %s\n", f)
			}
			for _, f := range res.Removed {
				fmt.Fprintf(app.IO.Out, "removed %s\n", f)
			}
			fmt.Fprintf(app.IO.ErrOut, "%d files in %s (%d unchanged)\n", res.Files, workspace.GenDir, res.Unchanged)
			return nil
		},
	}
}

type genResult struct {
	Files     int      `json:"files"`
	Written   []string `json:"written"`
	Removed   []string `json:"removed"`
	Unchanged int      `json:"unchanged"`
}

// writeGen makes gen/proto exactly what lint expects: changed files written atomically, files
// without a contract removed, unchanged files left alone (so their mtimes and git stay quiet).
func writeGen(ws *workspace.Workspace, rep *lint.Report) (*genResult, error) {
	want := lint.GenFiles(rep.Compiled, rep.Outputs)
	base := filepath.Join(ws.Root(), filepath.FromSlash(workspace.GenDir))
	res := &genResult{Files: len(want), Written: []string{}, Removed: []string{}}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dst := filepath.Join(base, filepath.FromSlash(p))
		if old, err := os.ReadFile(dst); err == nil && string(old) == string(want[p]) {
			res.Unchanged++
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, want[p], 0o644); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		res.Written = append(res.Written, workspace.GenDir+"/"+p)
	}
	err := filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
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
	return res, nil
}

func newBuildCmd(app *App) *cobra.Command {
	var out string
	var noCache bool
	cmd := &cobra.Command{
		Use: "build -o FILE",
		Example: `  evctl build -o descriptors.binpb
  evctl build -o - > descriptors.binpb
  evctl build -o descriptors.binpb --no-cache`,
		Short: "Write one deterministic FileDescriptorSet (binary) of every contract",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("build needs -o FILE (- for stdout)")
			}
			if err := buildOutputIsFile(out); err != nil {
				return err
			}
			// One date for the cache key and the waiver expiry check, even across midnight.
			today := time.Now().UTC().Format(time.DateOnly)
			if !noCache {
				// Events whose inputs did not change come from .evctl/cache/incr, compiled
				// files included; the set is byte for byte the one compiled from scratch.
				rep, err := lint.CheckIncremental(cmd.Context(), app.Globals.Config, app.IO.WorkDir, lint.IncrOptions{Today: today, SkipGenFresh: true})
				if err != nil {
					return err
				}
				if err := app.failOnDiags(rep.Diags); err != nil {
					return err
				}
				b, events, err := rep.Set()
				if err != nil {
					return err
				}
				return app.writeBuild(out, b, events)
			}
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			rep := lint.Check(cmd.Context(), ws, lint.Options{SkipGenFresh: true, Today: today, ForSet: true})
			if err := app.failOnDiags(rep.Diags); err != nil {
				return err
			}
			b, _, err := compile.NewSetCache(rep.Compiled).Marshal(nil)
			if err != nil {
				return err
			}
			if err := app.writeBuild(out, b, len(rep.Compiled.Files)); err != nil {
				return err
			}
			return nil
		},
	}
	// SPEC 3 names this flag -o FILE; it shadows the global -o format, which build has no use for.
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (- for stdout)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "compile every event again, neither reading nor writing .evctl/cache")
	return cmd
}

// writeBuild writes a built descriptor set to out (- for stdout) with its summary on stderr.
func (a *App) writeBuild(out string, b []byte, events int) error {
	if out == "-" {
		_, err := a.IO.Out.Write(b)
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(a.IO.WorkDir, out)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	// stdout stays free for -o -, so the summary goes to stderr.
	fmt.Fprintf(a.IO.ErrOut, "wrote %s: %d events, %d bytes, sha256 %s\n", out, events, len(b), compile.SHA256(b))
	return nil
}
