package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/contracts/diag"
	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/promote"
)

type promoteOptions struct {
	Event  string
	Fields []string
}

// promoteResult is what promote did; its JSON form is `evctl promote -o json`.
type promoteResult struct {
	Event   string           `json:"event"`
	File    string           `json:"file"`
	Changes []promote.Change `json:"changes"`
}

func newPromoteCmd(app *App) *cobra.Command {
	opts := &promoteOptions{}
	cmd := &cobra.Command{
		Use: "promote <event> [--field F]...",
		Example: `  # move the event to prod; with --field, only those fields
  evctl promote feed/video_played
  evctl promote feed/video_played --field watch_ms --field device.model`,
		Short: "Move an event (or some of its fields) from staging to prod in its YAML",
		Long: `Rewrite the event's YAML in place, changing only the stage values (comments, order and
layout are kept). Without --field the event moves to prod; with --field, those fields do
(dotted paths reach into records: --field device.model). Refused when lint finds errors in
the event. Run evctl generate afterwards and commit both.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvents(app),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			opts.Event = args[0]
			return runPromote(cmd, app, opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Fields, "field", nil, "field to promote (repeatable; dotted for record fields)")
	return cmd
}

func runPromote(cmd *cobra.Command, app *App, opts *promoteOptions) error {
	ev, root, err := promoteTarget(app, opts.Event)
	if err != nil {
		return err
	}
	// Promotion makes the contract binding; a contract lint rejects must not become prod. The
	// findings are lint's (through its cache), those of the whole pipeline; the repository's
	// events are no longer held by then.
	rep, err := lint.CheckIncremental(cmd.Context(), app.Globals.Config, app.IO.WorkDir, lint.IncrOptions{SkipGenFresh: true})
	if err != nil {
		return err
	}
	rawFile := ""
	if ev.Schema.Proto != nil {
		rawFile = path.Join(contract.Dir, ev.Dir, ev.Schema.Proto.File)
	}
	var mine diag.List
	for _, d := range rep.Diags {
		if d.Severity == diag.Error && (d.File == ev.File || (rawFile != "" && d.File == rawFile)) {
			mine = append(mine, d)
		}
	}
	if len(mine) > 0 {
		_ = app.renderDiags(app.IO.ErrOut, mine, "text")
		return fmt.Errorf("promote: refused: %s has %d lint error(s); fix them first (`evctl lint %s`)", ev.ID(), len(mine), ev.File)
	}
	file := filepath.Join(root, filepath.FromSlash(ev.File))
	src, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	out, changes, err := promote.Promote(ev.File, src, opts.Fields)
	if err != nil {
		return err
	}
	if len(changes) > 0 {
		if err := replaceFile(file, out); err != nil {
			return fmt.Errorf("promote: %w", err)
		}
	}
	res := promoteResult{Event: ev.ID(), File: ev.File, Changes: changes}
	if res.Changes == nil {
		res.Changes = []promote.Change{}
	}
	if app.Globals.Output == "json" {
		return json.NewEncoder(app.IO.Out).Encode(res)
	}
	if len(changes) == 0 {
		fmt.Fprintf(app.IO.Out, "%s: already prod; nothing to change\n", ev.ID())
		return nil
	}
	for _, c := range changes {
		fmt.Fprintf(app.IO.Out, "%s:%d: %s %s → %s\n", ev.File, c.Line, c.Target, c.From, c.To)
	}
	fmt.Fprintf(app.IO.ErrOut, "promoted %s; run `evctl generate` and commit; from now on breaking changes to it are blocked\n", ev.ID())
	return nil
}

// promoteTarget finds the event to promote, and the repository root; the rest of the
// repository is let go.
func promoteTarget(app *App, id string) (*contract.Event, string, error) {
	ws, err := app.Workspace()
	if err != nil {
		return nil, "", err
	}
	ev := ws.Event(id)
	if ev == nil {
		return nil, "", fmt.Errorf("promote: no event %q (name it domain/event; `evctl list` shows them)", id)
	}
	return ev, ws.Root(), nil
}

// replaceFile replaces a file through a temporary file in the same folder, keeping its mode.
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".evctl-promote-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
