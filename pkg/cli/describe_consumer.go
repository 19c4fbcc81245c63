package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/discovery/describe"
	"github.com/evctl/evctl/pkg/discovery/discover"
)

// findConsumer is the consumer describe's argument names: "consumer/<name>",
// "consumers/<name>[.yaml]", or a bare name that is no event's (an event wins a bare name).
func findConsumer(ws *workspace.Workspace, arg string) *consumer.Consumer {
	name, explicit := strings.CutPrefix(arg, "consumer/")
	if !explicit {
		name, explicit = strings.CutPrefix(arg, consumer.Dir+"/")
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".yaml"), ".yml")
	}
	if !explicit && ws.Event(arg) != nil {
		return nil
	}
	for _, c := range ws.Consumers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// describeConsumer is `evctl describe <consumer>`: the repository's facts, and with --env the
// resources' status, the published definition and the group's lag.
func (a *App) describeConsumer(ctx context.Context, ws *workspace.Workspace, c *consumer.Consumer, o *describeOptions) error {
	r := describe.Consumer(ws.Project, ws.Events, c, o.Env)
	if o.Env != "" {
		conn, err := envconn.Open(ctx, ws.Project, o.Env, envconn.Options{Getenv: a.IO.Getenv, Logger: a.logger()})
		if err != nil {
			return err
		}
		defer conn.Close()
		live := describe.ConsumerLive{Live: describe.Live{State: conn.State, KafkaErr: conn.KafkaErr}, Descriptors: conn.Descriptors}
		if conn.Kafka != nil {
			live.Admin = conn.Kafka.Admin()
		}
		if conn.Descriptors == nil && conn.DescriptorsErr != nil {
			r.Errors = append(r.Errors, "descriptors: "+conn.DescriptorsErr.Error())
		}
		if err := r.AddLive(ctx, ws.Project, ws.Events, c, live); err != nil {
			return err
		}
	}
	if a.Globals.Output == "json" {
		enc := json.NewEncoder(a.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	renderConsumer(a.IO.Out, r)
	return nil
}

// renderConsumer is describe's human view of a consumer, from the same report as the JSON.
func renderConsumer(w io.Writer, r *describe.ConsumerReport) {
	fmt.Fprintf(w, "consumer %s  (owner %s)\n", r.Consumer, r.Team)
	for _, line := range strings.Split(r.Description, "\n") {
		if line != "" {
			fmt.Fprintln(w, "  "+line)
		}
	}
	fmt.Fprintf(w, "\nfile:       %s\n", r.File)
	fmt.Fprintf(w, "events:     %s\n", orDash(strings.Join(r.Events, ", ")))
	fmt.Fprintf(w, "where:      %s\n", orDash(whereLine(r.Where)))
	fmt.Fprintf(w, "deliver:    %s\n", deliverLine(r.ConsumerSummary))
	fmt.Fprintf(w, "retry:      %d attempts, backoff %s, at most %s\n", r.Retry.MaxAttempts, r.Retry.Backoff, r.Retry.MaxBackoff)
	fmt.Fprintf(w, "group:      %s\n", r.Group)
	fmt.Fprintf(w, "dlq:        %s\n", r.DLQ)
	if r.Env != "" {
		fmt.Fprintf(w, "routed in %s: %s\n", r.Env, orDash(strings.Join(r.Hosted, ", ")))
		fmt.Fprintf(w, "\nresources in %s:\n", r.Env)
	} else {
		fmt.Fprintf(w, "\nresources (names per environment; --env shows their status):\n")
	}
	width := 0
	for _, s := range r.Resources {
		width = max(width, len(s.Name))
	}
	for _, s := range r.Resources {
		line := fmt.Sprintf("  %-*s", width, s.Name)
		if s.Status != "" {
			line += "  " + fmt.Sprintf("%-7s", s.Status)
		}
		if !s.Time.IsZero() {
			line += "  " + s.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if s.Error != "" {
			fmt.Fprintf(w, "      error: %s\n", s.Error)
		}
	}
	if p := r.Published; p != nil {
		switch {
		case p.SHA256 == "":
			fmt.Fprintf(w, "\npublished:  no (run evctl apply)\n")
		case p.Current:
			fmt.Fprintf(w, "\npublished:  %s (current)\n", p.SHA256)
		default:
			fmt.Fprintf(w, "\npublished:  %s (differs from the repository; run evctl apply)\n", p.SHA256)
		}
	}
	if r.Env != "" {
		fmt.Fprintf(w, "\nconsumer group:\n")
		if len(r.Groups) == 0 {
			fmt.Fprintf(w, "  %s has not committed offsets yet\n", r.Group)
		}
		for _, g := range r.Groups {
			fmt.Fprintf(w, "  %-24s %-8s members %d  lag %d\n", g.Group, g.State, g.Members, g.Lag)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "\nunavailable: %s\n", e)
	}
	fmt.Fprintf(w, "\ntransform:\n")
	for _, line := range strings.Split(strings.TrimRight(r.Transform, "\n"), "\n") {
		fmt.Fprintln(w, strings.TrimRight("  "+line, " "))
	}
}

func whereLine(where map[string]string) string {
	keys := make([]string, 0, len(where))
	for k := range where {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+where[k])
	}
	return strings.Join(parts, ", ")
}

func deliverLine(s discover.ConsumerSummary) string {
	if s.Deliver == "http" {
		return "http (URL from $" + s.Target + ")"
	}
	return s.Deliver + " " + s.Target
}

// renderList is list's view: the events, then the consumers (JSON {"events", "consumers"}).
func (a *App) renderList(events []discover.Summary, consumers []discover.ConsumerSummary) error {
	if a.Globals.Output == "json" {
		enc := json.NewEncoder(a.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"events": events, "consumers": consumers})
	}
	if err := a.renderSummaries(events, false); err != nil {
		return err
	}
	if len(consumers) == 0 {
		return nil
	}
	fmt.Fprintf(a.IO.Out, "\nconsumers:\n")
	for _, c := range consumers {
		fmt.Fprintf(a.IO.Out, "%-38s %-10s %-30s %s\n", c.Consumer, c.Team, strings.Join(c.Events, ","), deliverLine(c))
	}
	return nil
}

// consumersLine is describe's line naming the consumers/*.yaml that read an event.
func consumersLine(cs []discover.ConsumerSummary) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Consumer+" ("+c.Team+", "+deliverLine(c)+")")
	}
	return strings.Join(parts, ", ")
}
