package count

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// EnsureTopics creates the counters' output topics that do not exist yet, as Kafka Streams
// creates its internal topics: each changelog (compacted, as many partitions as its event's
// topic), each repartition topic (as many partitions) and the environment's milestones topic. `evctl apply` provisions them with their ACLs
// (the kafka_counter_topic kind, pkg/control/sink/counters), which adopts topics made here; this
// stays as a fallback so a worker whose credentials may create topics (evctl dev before an
// apply, a fresh cluster) works, and a worker that may not gets an error naming the topic.
func EnsureTopics(ctx context.Context, adm *kadm.Client, env string, events []EventCounters, topics map[string]string) error {
	var srcTopics []string
	for _, ev := range events {
		srcTopics = append(srcTopics, topics[ev.Event])
	}
	details, err := adm.ListTopics(ctx, srcTopics...)
	if err != nil {
		return fmt.Errorf("count: describe source topics: %w", err)
	}
	parts := func(t string) int32 {
		if d, ok := details[t]; ok && d.Err == nil && len(d.Partitions) > 0 {
			return int32(len(d.Partitions))
		}
		return 1
	}
	type want struct {
		parts   int32
		configs map[string]*string
	}
	compact, del := "compact", "delete"
	wants := map[string]want{}
	var maxParts int32 = 1
	for _, ev := range events {
		p := parts(topics[ev.Event])
		maxParts = max(maxParts, p)
		for _, c := range ev.Counters {
			wants[ChangelogTopic(env, c.Name)] = want{p, map[string]*string{"cleanup.policy": &compact}}
		}
		for _, c := range ev.Repartition {
			wants[RepartitionTopic(env, c)] = want{p, map[string]*string{"cleanup.policy": &del}}
		}
	}
	wants[MilestonesTopic(env)] = want{maxParts, nil}
	for topic, w := range wants {
		res, err := adm.CreateTopic(ctx, w.parts, -1, w.configs, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("count: create %s (evctl apply provisions it; or grant this worker CreateTopics): %w", topic, err)
		}
	}
	return nil
}
