package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
)

// KindTopic is the kind name of Kafka topics in plans and state.
const KindTopic = "kafka_topic"

// RetentionKey is the topic config ParseRetention's value goes to.
const RetentionKey = "retention.ms"

// TopicSpec is the wanted (Desired.Spec) or live (Observed.Spec) shape of a topic.
type TopicSpec struct {
	// Partitions is the partition count; 0 or less means the broker default (never diffed).
	Partitions int32 `json:"partitions"`
	// ReplicationFactor is the replica count; -1 (or 0) means the broker default (never diffed).
	ReplicationFactor int16 `json:"replication_factor"`
	// Configs are topic-level configs. In a desired spec only these keys are compared with the
	// live topic: broker defaults and keys evctl does not set are ignored. In an observed spec it
	// holds the topic's overrides plus the live values of the keys the desired spec names.
	Configs map[string]string `json:"configs,omitempty"`
}

// NewTopicSpec builds a desired spec from a contract's sinks.kafka block. retention is a
// ParseRetention string ("" leaves the broker default) and becomes configs["retention.ms"];
// giving both is an error. The replication factor is the broker default.
func NewTopicSpec(partitions int32, retention string, configs map[string]string) (TopicSpec, error) {
	spec := TopicSpec{Partitions: partitions, ReplicationFactor: -1, Configs: maps.Clone(configs)}
	if partitions < 0 {
		return TopicSpec{}, fmt.Errorf("kafka: topic spec: partitions %d must not be negative", partitions)
	}
	if retention != "" {
		if _, ok := configs[RetentionKey]; ok {
			return TopicSpec{}, fmt.Errorf("kafka: topic spec: retention %q and configs[%q] both set", retention, RetentionKey)
		}
		ms, err := ParseRetention(retention)
		if err != nil {
			return TopicSpec{}, err
		}
		if spec.Configs == nil {
			spec.Configs = map[string]string{}
		}
		spec.Configs[RetentionKey] = ms
	}
	return spec, nil
}

// ParseRetention converts a retention such as "7d", "12h", "30m", "45s" or "-1" (forever) to
// the milliseconds string Kafka's retention.ms takes. It returns an error for anything else,
// including zero, negative and overflowing durations.
func ParseRetention(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return "-1", nil
	}
	units := map[byte]int64{'d': 86_400_000, 'h': 3_600_000, 'm': 60_000, 's': 1_000}
	if len(s) < 2 {
		return "", fmt.Errorf("kafka: retention %q: want a number and a unit (d, h, m, s) or -1", s)
	}
	unit, ok := units[s[len(s)-1]]
	if !ok {
		return "", fmt.Errorf("kafka: retention %q: unknown unit %q (want d, h, m or s)", s, s[len(s)-1:])
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 {
		return "", fmt.Errorf("kafka: retention %q: want a positive whole number before the unit, or -1", s)
	}
	if n > (1<<63-1)/unit {
		return "", fmt.Errorf("kafka: retention %q: too large", s)
	}
	return strconv.FormatInt(n*unit, 10), nil
}

// TopicSink is the kafka_topic sink. It implements sink.Sink, sink.BatchApplier and
// sink.Lister.
type TopicSink struct {
	TopicDef
	c *Client
}

var (
	_ sink.Sink         = (*TopicSink)(nil)
	_ sink.BatchApplier = (*TopicSink)(nil)
	_ sink.Lister       = (*TopicSink)(nil)
)

// NewTopicSink returns the topic sink over c.
func NewTopicSink(c *Client) *TopicSink { return &TopicSink{c: c} }

// Observe reads every wanted topic with one Metadata request and one DescribeConfigs request,
// whatever the number of topics. It returns one Observed per distinct name, in want's order.
// The returned error is for the cluster being unreachable (or ctx ending); a topic that could
// not be read (for example TOPIC_AUTHORIZATION_FAILED) has its Observed.Err set instead.
func (s *TopicSink) Observe(ctx context.Context, want []sink.Desired) ([]sink.Observed, error) {
	var names []string
	keys := map[string]map[string]bool{} // topic → config keys the desired spec sets
	for _, d := range want {
		if _, seen := keys[d.Name]; !seen {
			names = append(names, d.Name)
			keys[d.Name] = map[string]bool{}
		}
		if spec, err := topicSpec(d.Spec); err == nil {
			for k := range spec.Configs {
				keys[d.Name][k] = true
			}
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	obs, err := s.observe(ctx, names, keys)
	if err != nil {
		return nil, err
	}
	return obs, nil
}

// observe reads names with one Metadata request (raw: kadm's ListTopics answers from the
// client's metadata cache, which can miss a topic created a moment ago, and fails the whole
// call on one topic's authorization error) and one DescribeConfigs request (kadm's
// DescribeTopicConfigs, per topic results).
func (s *TopicSink) observe(ctx context.Context, names []string, keys map[string]map[string]bool) ([]sink.Observed, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.AllowAutoTopicCreation = false
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		mreq.Topics = append(mreq.Topics, t)
	}
	kresp, err := s.c.request(ctx, mreq)
	if err != nil {
		return nil, fmt.Errorf("kafka: describe topics: %w", err)
	}
	mresp := kresp.(*kmsg.MetadataResponse)
	meta := map[string]*kmsg.MetadataResponseTopic{}
	for i := range mresp.Topics {
		if t := &mresp.Topics[i]; t.Topic != nil {
			meta[*t.Topic] = t
		}
	}

	out := make([]sink.Observed, len(names))
	var existing []string
	for i, n := range names {
		out[i] = sink.Observed{Kind: KindTopic, Name: n}
		t, ok := meta[n]
		switch {
		case !ok:
			out[i].Err = fmt.Errorf("kafka: describe topic %q: missing from the metadata response", n)
		case t.ErrorCode == kerr.UnknownTopicOrPartition.Code:
			// Does not exist.
		case t.ErrorCode != 0:
			out[i].Err = fmt.Errorf("kafka: describe topic %q: %w", n, brokerErr(t.ErrorCode, nil))
		default:
			spec := TopicSpec{Partitions: int32(len(t.Partitions)), Configs: map[string]string{}}
			for _, p := range t.Partitions {
				if p.Partition == 0 {
					spec.ReplicationFactor = int16(len(p.Replicas))
				}
			}
			out[i].Exists, out[i].Spec = true, spec
			existing = append(existing, n)
		}
	}
	if len(existing) == 0 {
		return out, nil
	}

	rcs, err := s.c.adm.DescribeTopicConfigs(ctx, existing...)
	var shard *kadm.ShardErrors
	if err != nil && !errors.As(err, &shard) {
		return nil, fmt.Errorf("kafka: describe topic configs: %w", s.c.explain(ctx, err))
	}
	cfgs := map[string]*kadm.ResourceConfig{}
	for i := range rcs {
		cfgs[rcs[i].Name] = &rcs[i]
	}
	for i := range out {
		if !out[i].Exists {
			continue
		}
		n := out[i].Name
		r, ok := cfgs[n]
		switch {
		case !ok && shard != nil:
			out[i].Err = fmt.Errorf("kafka: describe topic configs %q: %w", n, shard)
			continue
		case !ok:
			out[i].Err = fmt.Errorf("kafka: describe topic configs %q: missing from the response", n)
			continue
		case errors.Is(r.Err, kerr.UnknownTopicOrPartition):
			// Deleted between the two requests.
			out[i].Exists, out[i].Spec = false, nil
			continue
		case r.Err != nil:
			out[i].Err = fmt.Errorf("kafka: describe topic configs %q: %w", n, withMessage(r.Err, r.ErrMessage))
			continue
		}
		spec := out[i].Spec.(TopicSpec)
		for _, c := range r.Configs {
			if c.Value == nil || c.Sensitive {
				continue
			}
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig || keys[n][c.Key] {
				spec.Configs[c.Key] = *c.Value
			}
		}
		out[i].Spec = spec
	}
	return out, nil
}

// Diff compares wanted topics with their observations. It never does I/O. For each desired
// topic: missing → create; partitions up → update ("partitions"); partitions down or an explicit
// replication factor change → blocked with the reason; a set config that differs → update
// ("configs.<key>"); equal → noop; Absent and live → delete; Absent and gone → noop. A topic whose
// observation failed is blocked with that error as reason. The error is for a spec of the wrong
// type or a desired topic with no observation.
func (s *TopicSink) Diff(want []sink.Desired, have []sink.Observed) ([]sink.Change, error) {
	return sink.DiffEach(sink.Differ{
		Kind: KindTopic, What: "kafka: diff topic", DeleteReason: "removed from the repository",
		Present: func(ch *sink.Change) error {
			want, err := topicSpec(ch.Desired.Spec)
			if err != nil {
				return err
			}
			if !ch.Observed.Exists {
				ch.Action, ch.Diff = sink.Create, createDiff(want)
				return nil
			}
			live, err := topicSpec(ch.Observed.Spec)
			if err != nil {
				return fmt.Errorf("observed: %w", err)
			}
			ch.Action, ch.Diff, ch.Reason = updateDiff(want, live)
			return nil
		},
	}, want, have)
}

func createDiff(want TopicSpec) []sink.DiffEntry {
	var diff []sink.DiffEntry
	if want.Partitions > 0 {
		diff = append(diff, sink.DiffEntry{Path: "partitions", To: strconv.Itoa(int(want.Partitions))})
	}
	if want.ReplicationFactor > 0 {
		diff = append(diff, sink.DiffEntry{Path: "replication_factor", To: strconv.Itoa(int(want.ReplicationFactor))})
	}
	for _, k := range slices.Sorted(maps.Keys(want.Configs)) {
		diff = append(diff, sink.DiffEntry{Path: "configs." + k, To: want.Configs[k]})
	}
	return diff
}

func updateDiff(want, live TopicSpec) (sink.Action, []sink.DiffEntry, string) {
	var (
		diff    []sink.DiffEntry
		reasons []string
	)
	if want.Partitions > 0 && want.Partitions != live.Partitions {
		diff = append(diff, sink.DiffEntry{Path: "partitions", From: strconv.Itoa(int(live.Partitions)), To: strconv.Itoa(int(want.Partitions))})
		if want.Partitions < live.Partitions {
			reasons = append(reasons, fmt.Sprintf("partitions cannot decrease from %d to %d: bump major for a new topic", live.Partitions, want.Partitions))
		}
	}
	if want.ReplicationFactor > 0 && want.ReplicationFactor != live.ReplicationFactor {
		diff = append(diff, sink.DiffEntry{Path: "replication_factor", From: strconv.Itoa(int(live.ReplicationFactor)), To: strconv.Itoa(int(want.ReplicationFactor))})
		reasons = append(reasons, fmt.Sprintf("replication factor change from %d to %d needs a partition reassignment, which evctl does not do", live.ReplicationFactor, want.ReplicationFactor))
	}
	for _, k := range slices.Sorted(maps.Keys(want.Configs)) {
		if v, ok := live.Configs[k]; !ok || v != want.Configs[k] {
			diff = append(diff, sink.DiffEntry{Path: "configs." + k, From: v, To: want.Configs[k]})
		}
	}
	switch {
	case len(reasons) > 0:
		return sink.Blocked, diff, strings.Join(reasons, "; ")
	case len(diff) > 0:
		return sink.Update, diff, ""
	}
	return sink.Noop, nil, ""
}

// List returns the names of all live, non-internal topics that start with prefix, sorted, with
// one Metadata request (raw, not kadm's ListTopics: that answers from the client's metadata
// cache, which can miss a topic made by hand a moment ago). The error is for the request failing.
func (s *TopicSink) List(ctx context.Context, prefix string) ([]string, error) {
	// One metadata request of every topic, shared with the listings made at the same time
	// (the response is only read).
	v, err, _ := s.c.listing.Do("all", func() (any, error) {
		return s.c.request(ctx, kmsg.NewPtrMetadataRequest()) // nil Topics: all topics
	})
	if err != nil {
		return nil, fmt.Errorf("kafka: list topics: %w", err)
	}
	var names []string
	for _, t := range v.(*kmsg.MetadataResponse).Topics {
		if t.Topic == nil || t.IsInternal || t.ErrorCode != 0 || !strings.HasPrefix(*t.Topic, prefix) {
			continue
		}
		names = append(names, *t.Topic)
	}
	slices.Sort(names)
	return names, nil
}

// topicSpec accepts a TopicSpec or a non-nil *TopicSpec.
func topicSpec(v any) (TopicSpec, error) {
	switch s := v.(type) {
	case TopicSpec:
		return s, nil
	case *TopicSpec:
		if s != nil {
			return *s, nil
		}
	}
	return TopicSpec{}, fmt.Errorf("spec is %T, want kafka.TopicSpec", v)
}

var errNoDesired = errors.New("change carries no desired spec")
