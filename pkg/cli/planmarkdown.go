package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
)

// maxCommentChars caps the markdown of a plan below GitHub's 65,536-character limit for a
// comment, leaving room for what the workflow adds (its marker and the commit line).
const maxCommentChars = 60000

// maxListed bounds each list that is not per event (breaking findings, drift, errors).
const maxListed = 40

// renderPlanMarkdown writes a plan as a pull request comment: the counts, what blocks it, then
// one collapsed section per event (open when it holds a blocked change), each a table of its
// changes with a changed contract shown field by field. It never writes more than
// maxCommentChars: the events that do not fit are counted in a last line that points to the
// job log, where the whole plan is.
func renderPlanMarkdown(w io.Writer, p *plan.Plan) error {
	var b strings.Builder
	s := p.Summary
	fmt.Fprintf(&b, "### evctl plan: `%s`\n\n", p.Env)
	fmt.Fprintf(&b, "**%d** to create, **%d** to update, **%d** to replace, **%d** to delete, **%d** blocked, %d skipped, %d unchanged.\n",
		s.Create, s.Update, s.Replace, s.Delete, s.Blocked, s.Skipped, s.Noop)
	if s.Blocked > 0 || len(p.Errors) > 0 {
		b.WriteString("\n:no_entry: **This plan cannot be applied as it is**: resolve what is blocked or failed below.\n")
	}
	list(&b, "#### :no_entry: Breaking changes in prod contracts", len(p.Breaking), func(i int) string {
		x := p.Breaking[i]
		return fmt.Sprintf("%s field %s: **%s** %s", code(x.Event), code(x.Field), x.Rule, mdEscape(x.Message))
	})
	list(&b, "#### :x: Errors", len(p.Errors), func(i int) string { return mdEscape(p.Errors[i]) })
	list(&b, "#### Drift (changed outside evctl since the last apply)", len(p.Drift), func(i int) string {
		d := p.Drift[i]
		return fmt.Sprintf("%s %s: %s", d.Kind, code(d.Name), mdEscape(d.Message))
	})
	list(&b, "#### Unmanaged (under the managed naming, not created by this repository; left alone)", len(p.Unmanaged), func(i int) string {
		return fmt.Sprintf("%s %s", p.Unmanaged[i].Kind, code(p.Unmanaged[i].Name))
	})

	groups := groupByEvent(p.Changes)
	if len(groups) > 0 {
		b.WriteString("\n")
	}
	for i, g := range groups {
		section := g.markdown()
		// Keep room for the line that says what was left out.
		if b.Len()+len(section) > maxCommentChars-400 {
			rest := 0
			for _, h := range groups[i:] {
				rest += len(h.changes)
			}
			fmt.Fprintf(&b, "\n:warning: **%d more events (%d changes) are not shown**: a comment is capped at %d characters. The whole plan is in the job log (`evctl show` of the saved plan).\n",
				len(groups)-i, rest, maxCommentChars)
			break
		}
		b.WriteString(section)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// list writes a headed bullet list of n items, at most maxListed of them.
func list(b *strings.Builder, heading string, n int, item func(int) string) {
	if n == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n", heading)
	for i := 0; i < n && i < maxListed; i++ {
		fmt.Fprintf(b, "- %s\n", truncate(item(i), 500))
	}
	if n > maxListed {
		fmt.Fprintf(b, "- … and %d more (see the job log)\n", n-maxListed)
	}
}

// eventGroup is the changes of one event (or of none: team users are per team).
type eventGroup struct {
	event   string
	changes []sink.Change
	blocked bool
}

// groupByEvent groups the changes that do something (noop left out) by event: events with a
// blocked change first, then by name. Skipped changes are counted, not listed.
func groupByEvent(cs []sink.Change) []eventGroup {
	idx := map[string]int{}
	var out []eventGroup
	for _, c := range cs {
		if c.Action == sink.Noop {
			continue
		}
		i, ok := idx[c.Event]
		if !ok {
			i = len(out)
			idx[c.Event] = i
			out = append(out, eventGroup{event: c.Event})
		}
		out[i].changes = append(out[i].changes, c)
		out[i].blocked = out[i].blocked || c.Action == sink.Blocked
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].blocked != out[j].blocked {
			return out[i].blocked
		}
		return out[i].event < out[j].event
	})
	return out
}

func (g eventGroup) markdown() string {
	var b strings.Builder
	counts := map[sink.Action]int{}
	for _, c := range g.changes {
		counts[c.Action]++
	}
	var parts []string
	for _, a := range []sink.Action{sink.Blocked, sink.Create, sink.Update, sink.Replace, sink.Delete, sink.Skipped} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	name := g.event
	if name == "" {
		name = "teams"
	}
	open := ""
	if g.blocked {
		open = " open"
	}
	fmt.Fprintf(&b, "<details%s><summary><code>%s</code>: %s</summary>\n\n", open, mdHTML(name), strings.Join(parts, ", "))
	b.WriteString("| action | kind | name | details |\n|---|---|---|---|\n")
	skipped := map[string]int{}
	for _, c := range g.changes {
		if c.Action == sink.Skipped {
			skipped[c.Kind+": "+c.Reason]++
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", actionMark(c.Action), c.Kind, code(c.Name), changeDetails(c))
	}
	keys := make([]string, 0, len(skipped))
	for k := range skipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kind, reason, _ := strings.Cut(k, ": ")
		fmt.Fprintf(&b, "| skipped | %s | %d resources | %s |\n", kind, skipped[k], mdEscape(truncate(reason, 300)))
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

func actionMark(a sink.Action) string {
	switch a {
	case sink.Blocked:
		return ":no_entry: blocked"
	case sink.Replace, sink.Delete:
		return ":warning: " + string(a)
	}
	return string(a)
}

// changeDetails is one change's details cell: a changed contract field by field (its sha256
// entry then left out), other attributes as from → to, then the reason.
func changeDetails(c sink.Change) string {
	var det []string
	fields := false
	for _, d := range c.Diff {
		fields = fields || strings.HasPrefix(d.Path, descriptor.FieldPathPrefix)
	}
	for _, d := range c.Diff {
		switch {
		case strings.HasPrefix(d.Path, descriptor.FieldPathPrefix):
			path := strings.TrimPrefix(d.Path, descriptor.FieldPathPrefix)
			in := "" // a field of a nested record says which
			if i := strings.LastIndex(path, "."); i > 0 {
				in = " in " + code(path[:i])
			}
			switch {
			case d.From == "":
				det = append(det, "**+ field** "+code(d.To)+in)
			case d.To == "":
				det = append(det, "**− field** "+code(d.From)+in)
			default:
				det = append(det, fmt.Sprintf("**~ field** %s: %s → %s", code(path), code(d.From), code(d.To)))
			}
		case d.Path == "sha256" && c.Kind == descriptor.Kind && (fields || d.From == ""):
			if d.From == "" {
				det = append(det, "new contract")
			}
		case d.From == "":
			det = append(det, fmt.Sprintf("%s = %s", code(d.Path), code(truncate(d.To, 120))))
		case d.To == "":
			det = append(det, fmt.Sprintf("%s: %s → removed", code(d.Path), code(truncate(d.From, 120))))
		default:
			det = append(det, fmt.Sprintf("%s: %s → %s", code(d.Path), code(truncate(d.From, 120)), code(truncate(d.To, 120))))
		}
	}
	if c.Reason != "" {
		det = append(det, mdEscape(truncate(c.Reason, 500)))
	}
	return strings.Join(det, "<br>")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// mdEscape keeps free text inside its table cell or list item and its markdown inert: pipes and
// newlines would break the row, and HTML in it would not be the plan's text.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// code is s as an inline code span in a table cell (a pipe still ends a cell there).
func code(s string) string {
	return "`" + strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s) + "`"
}

func mdHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
