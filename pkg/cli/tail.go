package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/discovery/tail"
	"github.com/evctl/evctl/pkg/storage/descstore"
)

// tailOptions are tail's flags.
type tailOptions struct {
	Env           string
	FromBeginning bool
	N             int
	Follow        bool
}

// limits turns the flags into where to start and when to stop: -n N reads the last N records
// of each partition and stops after N; --from-beginning without -n reads everything; --follow
// without -n prints the last 10 of each partition, then new records until interrupted.
func (o tailOptions) limits() (lookback int64, limit int) {
	const dflt = 10
	switch {
	case o.N >= 0:
		lookback, limit = int64(o.N), o.N
	case o.FromBeginning || o.Follow:
		lookback, limit = dflt, 0
	default:
		lookback, limit = dflt, dflt
	}
	return lookback, limit
}

func newTailCmd(app *App) *cobra.Command {
	o := &tailOptions{}
	cmd := &cobra.Command{
		Use: "tail <event> --env E [--from-beginning] [-n N] [--follow]",
		Example: `  evctl tail feed/video_played --env local
  evctl tail feed/video_played --env prod -n 50
  evctl tail feed/video_played --env prod --from-beginning -o json
  evctl tail feed/video_played --env prod --follow`,
		Short: "Read an event's topic and print each record as a JSON line, decoded with its published descriptor",
		Long: "Each line is {\"offset\",\"partition\",\"key\",\"timestamp\",\"schema\",\"event\":{...}}; a record that\n" +
			"cannot be decoded has \"error\" instead of \"event\". Without --follow tail stops once it\n" +
			"has read to the end the topic had when it started.",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvents(app),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ws, err := app.Workspace()
			if err != nil {
				return err
			}
			ev := ws.Event(args[0])
			// evctl/counter_milestone is the evctl-owned milestone contract of the counters
			// (SPEC-dataplane 12): its records are on the environment's milestones topic.
			milestones := args[0] == count.MilestoneEvent
			if ev == nil && !milestones {
				return fmt.Errorf("tail: no event %q (use <domain>/<event>)", args[0])
			}
			if !milestones && ev.Sinks.Kafka == nil {
				return fmt.Errorf("tail: %s has no kafka sink", ev.ID())
			}
			conn, err := envconn.Open(ctx, ws.Project, o.Env, envconn.Options{Getenv: app.IO.Getenv, Logger: app.logger()})
			if err != nil {
				return err
			}
			defer conn.Close()
			if conn.Kafka == nil {
				return fmt.Errorf("tail: kafka is not reachable: %w", conn.KafkaErr)
			}
			if conn.Descriptors == nil {
				return fmt.Errorf("tail: descriptor store: %w", conn.DescriptorsErr)
			}
			idx, _, err := descstore.ReadIndex(ctx, conn.Descriptors)
			if err != nil {
				return err
			}
			messages := idx.Messages()
			var topic, fallback string
			if milestones {
				// apply publishes the milestone contract in the index like any event; before an
				// apply, the worker's own set (by its sha256 header) and the well-known names.
				topic, fallback = count.MilestonesTopic(o.Env), count.MilestoneMessage
				if e, ok := idx.Events[count.MilestoneEvent]; ok && e.Topic != "" {
					topic, fallback = e.Topic, e.Message
				}
			} else {
				topic, fallback = ws.Project.TopicName(o.Env, ev), messages[ev.ID()]
				if out, ds := ws.Effective(ev); fallback == "" && out != nil && !ds.HasErrors() {
					fallback = out.Message
				}
			}
			lookback, limit := o.limits()
			enc := json.NewEncoder(app.IO.Out) // one compact object per line
			_, err = tail.Run(ctx, conn.Kafka.Kgo(), tail.NewDecoder(conn.Descriptors, messages, fallback), tail.Options{
				Topic: topic, FromBeginning: o.FromBeginning,
				Lookback: lookback, Limit: limit, Follow: o.Follow,
			}, func(l tail.Line) error { return enc.Encode(l) })
			if err != nil {
				return err
			}
			return nil
		},
	}
	envFlag(cmd, &o.Env, "environment to read from")
	cmd.Flags().BoolVar(&o.FromBeginning, "from-beginning", false, "start at the first record of each partition")
	cmd.Flags().IntVarP(&o.N, "lines", "n", -1, "print at most N records, starting N before the end of each partition (default 10; all with --from-beginning or --follow)")
	cmd.Flags().BoolVar(&o.Follow, "follow", false, "keep printing new records until interrupted")
	return cmd
}
