package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/discovery/describe"
	"github.com/evctl/evctl/pkg/discovery/discover"
)

// describeOptions are describe's flags.
type describeOptions struct {
	Event  string
	Env    string
	Sample time.Duration
	Audit  int
}

func newDescribeCmd(app *App) *cobra.Command {
	o := &describeOptions{}
	cmd := &cobra.Command{
		Use: "describe <event>|consumer/<name> [--env E]",
		Example: `  evctl describe feed/video_played
  # with live facts: topic status, consumer groups, throughput, recent applies
  evctl describe feed/video_played --env prod
  evctl describe feed/video_played --env prod --sample 10s --audit 3 -o json
  # a consumer (consumers/crm_nudges.yaml): its resources, published definition and group lag
  evctl describe consumer/crm_nudges --env prod`,
		Short: "Everything about one event: owner, contract, sinks and their status, consumers and lag, throughput, audit, links",
		Long: "Without --env, describe shows what the repository says. With --env it adds each resource's\n" +
			"status from state, the consumer groups reading the topic with their lag, the records\n" +
			"appended over --sample, and the applies that touched the event.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvents(app),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.checkOutput("text", "json"); err != nil {
				return err
			}
			o.Event = args[0]
			if ws, err := app.Workspace(); err == nil {
				if c := findConsumer(ws, o.Event); c != nil {
					return app.describeConsumer(cmd.Context(), ws, c, o)
				}
			}
			r, err := app.runDescribe(cmd.Context(), o)
			if err != nil {
				return err
			}
			if app.Globals.Output == "json" {
				enc := json.NewEncoder(app.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			renderDescribe(app.IO.Out, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Env, "env", "", "environment for live facts (status, consumer groups, throughput, audit)")
	cmd.Flags().DurationVar(&o.Sample, "sample", 2*time.Second, "how long to sample the topic's end offsets for throughput (0 skips it)")
	cmd.Flags().IntVar(&o.Audit, "audit", 10, "show the most recent N applies that touched the event (0: all)")
	return cmd
}

func (a *App) runDescribe(ctx context.Context, o *describeOptions) (*describe.Report, error) {
	ws, err := a.Workspace()
	if err != nil {
		return nil, err
	}
	ev := ws.Event(o.Event)
	if ev == nil {
		return nil, fmt.Errorf("describe: no event %q (use <domain>/<event>; `evctl list` shows them)", o.Event)
	}
	src, message := "", ""
	out, ds := ws.Effective(ev)
	if out != nil && !ds.HasErrors() {
		src, message = string(out.Source), out.Message
	}
	r := describe.Repo(ws.Project, ev, o.Env, src, message)
	r.ConsumerDefinitions = discover.ConsumersOf(ws.Consumers, ev.ID())
	if src == "" {
		r.Errors = append(r.Errors, "contract: the effective contract cannot be built; run `evctl lint`")
	}
	if o.Env == "" {
		return r, nil
	}
	conn, err := envconn.Open(ctx, ws.Project, o.Env, envconn.Options{Getenv: a.IO.Getenv, Logger: a.logger()})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	live := describe.Live{State: conn.State, Sample: o.Sample, AuditLimit: o.Audit}
	if conn.Kafka != nil {
		live.Admin = conn.Kafka.Admin()
	} else {
		live.KafkaErr = conn.KafkaErr
	}
	if err := r.AddLive(ctx, live); err != nil {
		return nil, err
	}
	a.describeCounters(ctx, ws, r, live.Admin)
	a.addIngestion(ctx, ws, ev, o.Env, live.Admin, r)
	return r, nil
}

// renderDescribe is describe's human view, from the same report as the JSON.
func renderDescribe(w io.Writer, r *describe.Report) {
	fmt.Fprintf(w, "%s  (owner %s, pod %s, %s, v%d)\n", r.Event, r.Team, r.Pod, r.Stage, r.Major)
	for _, line := range strings.Split(r.Description, "\n") {
		fmt.Fprintln(w, strings.TrimRight("  "+line, " "))
	}
	fmt.Fprintf(w, "\nfile:       %s\n", r.File)
	fmt.Fprintf(w, "message:    %s\n", orDash(r.Message))
	fmt.Fprintf(w, "producers:  %s\n", orDash(strings.Join(r.Producers, ", ")))
	fmt.Fprintf(w, "consumers:  %s\n", orDash(strings.Join(r.Consumers, ", ")))
	if len(r.ConsumerDefinitions) > 0 {
		fmt.Fprintf(w, "routed to:  %s\n", consumersLine(r.ConsumerDefinitions))
	}
	if r.Env != "" {
		hosted := ""
		if !r.Hosted {
			hosted = fmt.Sprintf(" (does not host %s events)", r.Stage)
		}
		fmt.Fprintf(w, "\nsinks in %s%s:\n", r.Env, hosted)
	} else {
		fmt.Fprintf(w, "\nsinks (names per environment; --env shows their status):\n")
	}
	width := 0
	for _, s := range r.Sinks {
		width = max(width, len(s.Name))
	}
	for _, s := range r.Sinks {
		line := fmt.Sprintf("  %-15s %-*s", s.Kind, width, s.Name)
		if s.Status != "" {
			line += "  " + fmt.Sprintf("%-7s", s.Status)
		}
		if !s.Time.IsZero() {
			line += "  " + s.Time.UTC().Format(time.RFC3339)
		}
		if s.Commit != "" {
			line += "  " + shortCommit(s.Commit)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if s.Error != "" {
			fmt.Fprintf(w, "      error: %s\n", s.Error)
		}
		if len(s.Facts) > 0 {
			fmt.Fprintf(w, "      %s\n", factsLine(s.Facts))
		}
	}
	if r.Env != "" {
		renderIngestion(w, r)
		fmt.Fprintf(w, "\nconsumer groups:\n")
		if len(r.Groups) == 0 {
			fmt.Fprintf(w, "  none with offsets on the topic\n")
		}
		for _, g := range r.Groups {
			var parts []string
			for _, p := range g.Partitions {
				committed := "-" // nothing committed on this partition
				if p.Committed >= 0 {
					committed = fmt.Sprint(p.Committed)
				}
				parts = append(parts, fmt.Sprintf("p%d %s/%d", p.Partition, committed, p.End))
			}
			fmt.Fprintf(w, "  %-24s %-8s members %d  lag %d  (%s)\n", g.Group, g.State, g.Members, g.Lag, strings.Join(parts, ", "))
		}
		if t := r.Throughput; t != nil {
			fmt.Fprintf(w, "\nthroughput: %d records in %.1fs (%.1f/s), %d in total\n", t.Records, t.IntervalSeconds, t.PerSecond, t.EndOffset)
		}
		fmt.Fprintf(w, "\naudit (%d):\n", len(r.Audit))
		for _, a := range r.Audit {
			fmt.Fprintf(w, "  %s  %s  %s\n", a.Time.UTC().Format(time.RFC3339), a.Who, shortCommit(a.Commit))
			for _, c := range a.Changes {
				fmt.Fprintf(w, "      %-7s %-15s %s  %s\n", c.Action, c.Kind, c.Name, c.Status)
				if c.Error != "" {
					fmt.Fprintf(w, "        error: %s\n", c.Error)
				}
			}
		}
	}
	renderCounters(w, r)
	if len(r.Links) > 0 {
		fmt.Fprintf(w, "\nlinks:\n")
		for _, l := range r.Links {
			fmt.Fprintf(w, "  %-12s %s\n", l.Name, l.URL)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nunavailable: %s\n", e)
	}
	if r.Contract != "" {
		fmt.Fprintf(w, "\ncontract (%s):\n", r.Message)
		for _, line := range strings.Split(strings.TrimRight(r.Contract, "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("  "+line, " "))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// factsLine renders a resource's recorded facts as key=value pairs in key order.
func factsLine(facts map[string]string) string {
	parts := make([]string, 0, len(facts))
	for _, k := range slices.Sorted(maps.Keys(facts)) {
		parts = append(parts, k+"="+facts[k])
	}
	return strings.Join(parts, " ")
}
