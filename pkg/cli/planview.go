package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/state"
)

var actionSymbol = map[sink.Action]string{
	sink.Create: "+", sink.Update: "~", sink.Replace: "-/+", sink.Delete: "-", sink.Blocked: "!", sink.Skipped: "?", sink.Noop: " ",
}

func (a *App) symbol(act sink.Action) string {
	s := actionSymbol[act]
	switch act {
	case sink.Create:
		return a.IO.paint("32", s)
	case sink.Update:
		return a.IO.paint("33", s)
	case sink.Replace, sink.Delete, sink.Blocked:
		return a.IO.paint("31", s)
	}
	return s
}

// renderPlan writes a plan as text (Terraform-like), json (SPEC 4) or markdown (a PR comment).
func (a *App) renderPlan(w io.Writer, p *plan.Plan, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	case "markdown":
		return renderPlanMarkdown(w, p)
	}
	fmt.Fprintf(w, "evctl plan for environment %q\n\n", p.Env)
	shown := 0
	// Resources skipped for one shared reason (a sink this environment does not provision) are
	// one line, not one per resource.
	skipped := map[string]int{}
	for _, c := range p.Changes {
		if c.Action == sink.Skipped {
			skipped[c.Kind+"\x00"+c.Reason]++
		}
	}
	for _, c := range p.Changes {
		if c.Action == sink.Noop {
			continue
		}
		if k := c.Kind + "\x00" + c.Reason; c.Action == sink.Skipped && (skipped[k] > 1 || skipped[k] < 0) {
			if skipped[k] > 0 {
				fmt.Fprintf(w, "%3s %d %s resources skipped: %s\n", a.symbol(c.Action), skipped[k], c.Kind, c.Reason)
				skipped[k] = -1
				shown++
			}
			continue
		}
		shown++
		fmt.Fprintf(w, "%3s %-15s %s  (%s)\n", a.symbol(c.Action), c.Kind, c.Name, c.Event)
		for _, d := range c.Diff {
			fmt.Fprintf(w, "      %s: %q → %q\n", d.Path, d.From, d.To)
		}
		if c.Reason != "" {
			fmt.Fprintf(w, "      %s\n", c.Reason)
		}
	}
	if shown == 0 {
		fmt.Fprintln(w, "No changes: live matches the contracts.")
	}
	if len(p.Breaking) > 0 {
		fmt.Fprintln(w, "\nBreaking changes in prod contracts:")
		for _, b := range p.Breaking {
			fmt.Fprintf(w, "  %s %s: %s %s\n", b.Event, b.Field, b.Rule, b.Message)
		}
	}
	if len(p.Drift) > 0 {
		fmt.Fprintln(w, "\nDrift (changed outside evctl since the last apply):")
		for _, d := range p.Drift {
			fmt.Fprintf(w, "  %s %s (%s): %s\n", d.Kind, d.Name, d.Event, d.Message)
		}
	}
	if len(p.Unmanaged) > 0 {
		fmt.Fprintln(w, "\nUnmanaged (under the managed naming, not created by this repository; left alone):")
		for _, u := range p.Unmanaged {
			fmt.Fprintf(w, "  %s %s\n", u.Kind, u.Name)
		}
	}
	for _, e := range p.Errors {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
	s := p.Summary
	fmt.Fprintf(w, "\nPlan: %d to create, %d to update, %d to replace, %d to delete, %d blocked, %d skipped, %d unchanged.\n",
		s.Create, s.Update, s.Replace, s.Delete, s.Blocked, s.Skipped, s.Noop)
	return nil
}

func (a *App) renderApply(w io.Writer, rep *apply.Report) error {
	if a.Globals.Output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	counts := map[state.Status]int{}
	blocked := 0 // blocked resources are recorded as skipped; the summary counts them apart
	for _, r := range rep.Results {
		if r.Action == sink.Blocked {
			blocked++
		} else {
			counts[r.Status]++
		}
		if r.Action == sink.Noop && r.Status == state.StatusOK {
			continue
		}
		mark := a.IO.paint("32", "ok     ")
		switch {
		case r.Action == sink.Blocked:
			mark = a.IO.paint("31", "blocked")
		case r.Status == state.StatusFailed:
			mark = a.IO.paint("31", "failed ")
		case r.Status == state.StatusSkipped:
			mark = a.IO.paint("33", "skipped")
		}
		fmt.Fprintf(w, "%s %-8s %-15s %s  (%s)", mark, r.Action, r.Kind, r.Name, r.Event)
		if r.Error != "" {
			fmt.Fprintf(w, "\n        %s", r.Error)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nApply %s: %d ok, %d failed, %d blocked, %d skipped (audit %s).\n", rep.Env,
		counts[state.StatusOK], counts[state.StatusFailed], blocked, counts[state.StatusSkipped], rep.Audit)
	return nil
}
