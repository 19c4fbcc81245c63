package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/evctl/evctl/pkg/control/sink"
)

// Apply executes one change; it is ApplyBatch of one.
func (s *TopicSink) Apply(ctx context.Context, c sink.Change) error {
	return s.ApplyBatch(ctx, []sink.Change{c})[0]
}

// ApplyBatch executes changes with one admin request per operation: one CreateTopics for every
// create, one CreatePartitions and one IncrementalAlterConfigs for every update, one DeleteTopics
// for every delete. It returns one error (or nil) per change, in order; a change's error is
// prefixed "kafka: <op> topic %q" and wraps the broker's error (a kerr.Error), so errors.Is
// works. It is safe to repeat: creating a topic that already exists as wanted, adding partitions
// a topic already has and deleting a topic that is gone all succeed. A noop change succeeds;
// replace, blocked and skipped changes fail.
func (s *TopicSink) ApplyBatch(ctx context.Context, cs []sink.Change) []error {
	errs := make([]error, len(cs))
	var creates, updates, deletes []int
	for i, c := range cs {
		switch c.Action {
		case sink.Noop:
		case sink.Create:
			creates = append(creates, i)
		case sink.Update:
			updates = append(updates, i)
		case sink.Delete:
			deletes = append(deletes, i)
		default:
			errs[i] = fmt.Errorf("kafka: topic %q: cannot apply action %q", c.Name, c.Action)
		}
	}
	s.create(ctx, cs, creates, errs)
	s.addPartitions(ctx, cs, updates, errs)
	s.alterConfigs(ctx, cs, updates, errs)
	s.delete(ctx, cs, deletes, errs)
	return errs
}

func (s *TopicSink) create(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = timeoutMillis(ctx)
	pending := map[string]int{}
	for _, i := range idx {
		c := &cs[i]
		if c.Desired == nil {
			errs[i] = fmt.Errorf("kafka: create topic %q: %w", c.Name, errNoDesired)
			continue
		}
		spec, err := topicSpec(c.Desired.Spec)
		if err != nil {
			errs[i] = fmt.Errorf("kafka: create topic %q: %w", c.Name, err)
			continue
		}
		if _, dup := pending[c.Name]; dup {
			errs[i] = fmt.Errorf("kafka: create topic %q: twice in one batch", c.Name)
			continue
		}
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic = c.Name
		t.NumPartitions = -1
		if spec.Partitions > 0 {
			t.NumPartitions = spec.Partitions
		}
		t.ReplicationFactor = -1
		if spec.ReplicationFactor > 0 {
			t.ReplicationFactor = spec.ReplicationFactor
		}
		for k, v := range spec.Configs {
			rc := kmsg.NewCreateTopicsRequestTopicConfig()
			rc.Name, rc.Value = k, kmsg.StringPtr(v)
			t.Configs = append(t.Configs, rc)
		}
		req.Topics = append(req.Topics, t)
		pending[c.Name] = i
	}
	if len(req.Topics) == 0 {
		return
	}
	kresp, err := s.c.request(ctx, req)
	if err != nil {
		for _, i := range pending {
			errs[i] = fmt.Errorf("kafka: create topic %q: %w", cs[i].Name, err)
		}
		return
	}
	var exist []int
	for _, t := range kresp.(*kmsg.CreateTopicsResponse).Topics {
		i, ok := pending[t.Topic]
		if !ok {
			continue
		}
		delete(pending, t.Topic)
		switch err := brokerErr(t.ErrorCode, t.ErrorMessage); {
		case err == nil:
		case errors.Is(err, kerr.TopicAlreadyExists):
			exist = append(exist, i)
		default:
			errs[i] = fmt.Errorf("kafka: create topic %q: %w", cs[i].Name, err)
		}
	}
	for _, i := range pending {
		errs[i] = fmt.Errorf("kafka: create topic %q: no answer from the broker", cs[i].Name)
	}
	s.checkExisting(ctx, cs, exist, errs)
}

// checkExisting turns TOPIC_ALREADY_EXISTS into success when the live topic is what the change
// wanted (a repeated apply), and into an error naming the differences otherwise.
func (s *TopicSink) checkExisting(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	if len(idx) == 0 {
		return
	}
	want := make([]sink.Desired, 0, len(idx))
	for _, i := range idx {
		want = append(want, *cs[i].Desired)
	}
	have, err := s.Observe(ctx, want)
	if err == nil {
		var diff []sink.Change
		if diff, err = s.Diff(want, have); err == nil {
			for k, i := range idx {
				if d := diff[k]; d.Action != sink.Noop {
					errs[i] = fmt.Errorf("kafka: create topic %q: %w with different settings: %s", cs[i].Name, kerr.TopicAlreadyExists, describeDiff(d))
				}
			}
			return
		}
	}
	for _, i := range idx {
		errs[i] = fmt.Errorf("kafka: create topic %q: %w; checking it: %v", cs[i].Name, kerr.TopicAlreadyExists, err)
	}
}

func describeDiff(c sink.Change) string {
	parts := make([]string, 0, len(c.Diff))
	for _, d := range c.Diff {
		parts = append(parts, fmt.Sprintf("%s %q→%q", d.Path, d.From, d.To))
	}
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	return strings.Join(parts, ", ")
}

func (s *TopicSink) addPartitions(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = timeoutMillis(ctx)
	pending := map[string]int{}
	for _, i := range idx {
		for _, d := range cs[i].Diff {
			if d.Path != "partitions" || errs[i] != nil {
				continue
			}
			n, err := strconv.ParseInt(d.To, 10, 32)
			if err != nil || n <= 0 {
				errs[i] = fmt.Errorf("kafka: add partitions to topic %q: bad partition count %q", cs[i].Name, d.To)
				continue
			}
			t := kmsg.NewCreatePartitionsRequestTopic()
			t.Topic, t.Count = cs[i].Name, int32(n)
			req.Topics = append(req.Topics, t)
			pending[cs[i].Name] = i
		}
	}
	if len(req.Topics) == 0 {
		return
	}
	kresp, err := s.c.request(ctx, req)
	if err != nil {
		for _, i := range pending {
			errs[i] = fmt.Errorf("kafka: add partitions to topic %q: %w", cs[i].Name, err)
		}
		return
	}
	var recheck []int
	for _, t := range kresp.(*kmsg.CreatePartitionsResponse).Topics {
		i, ok := pending[t.Topic]
		if !ok {
			continue
		}
		delete(pending, t.Topic)
		switch err := brokerErr(t.ErrorCode, t.ErrorMessage); {
		case err == nil:
		case errors.Is(err, kerr.InvalidPartitions):
			// Also what a repeat after a crash gets: the topic already has that many.
			recheck = append(recheck, i)
			errs[i] = fmt.Errorf("kafka: add partitions to topic %q: %w", cs[i].Name, err)
		default:
			errs[i] = fmt.Errorf("kafka: add partitions to topic %q: %w", cs[i].Name, err)
		}
	}
	for _, i := range pending {
		errs[i] = fmt.Errorf("kafka: add partitions to topic %q: no answer from the broker", cs[i].Name)
	}
	if len(recheck) == 0 {
		return
	}
	names := make([]string, 0, len(recheck))
	for _, i := range recheck {
		names = append(names, cs[i].Name)
	}
	obs, err := s.observe(ctx, names, nil)
	if err != nil {
		return
	}
	for k, i := range recheck {
		spec, _ := obs[k].Spec.(TopicSpec)
		if obs[k].Exists && strconv.Itoa(int(spec.Partitions)) == partitionsTo(cs[i]) {
			errs[i] = nil
		}
	}
}

func partitionsTo(c sink.Change) string {
	for _, d := range c.Diff {
		if d.Path == "partitions" {
			return d.To
		}
	}
	return ""
}

// alterConfigs sets the configs.<key> entries of update changes, only those keys, with one
// IncrementalAlterConfigs request.
func (s *TopicSink) alterConfigs(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	pending := map[string]int{}
	for _, i := range idx {
		if errs[i] != nil {
			continue // a failed partition change leaves the configs for the retry
		}
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType = kmsg.ConfigResourceTypeTopic
		r.ResourceName = cs[i].Name
		for _, d := range cs[i].Diff {
			key, ok := strings.CutPrefix(d.Path, "configs.")
			if !ok {
				continue
			}
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Op, rc.Value = key, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(d.To)
			r.Configs = append(r.Configs, rc)
		}
		if len(r.Configs) > 0 {
			req.Resources = append(req.Resources, r)
			pending[cs[i].Name] = i
		}
	}
	if len(req.Resources) == 0 {
		return
	}
	kresp, err := s.c.request(ctx, req)
	if err != nil {
		for _, i := range pending {
			errs[i] = fmt.Errorf("kafka: alter topic configs %q: %w", cs[i].Name, err)
		}
		return
	}
	for _, r := range kresp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
		i, ok := pending[r.ResourceName]
		if !ok {
			continue
		}
		delete(pending, r.ResourceName)
		if err := brokerErr(r.ErrorCode, r.ErrorMessage); err != nil {
			errs[i] = fmt.Errorf("kafka: alter topic configs %q: %w", cs[i].Name, err)
		}
	}
	for _, i := range pending {
		errs[i] = fmt.Errorf("kafka: alter topic configs %q: no answer from the broker", cs[i].Name)
	}
}

// delete deletes every deleted topic with one DeleteTopics request (kadm's); a topic already
// gone is deleted.
func (s *TopicSink) delete(ctx context.Context, cs []sink.Change, idx []int, errs []error) {
	pending := map[string]int{}
	names := make([]string, 0, len(idx))
	for _, i := range idx {
		if _, dup := pending[cs[i].Name]; dup {
			continue
		}
		names = append(names, cs[i].Name)
		pending[cs[i].Name] = i
	}
	if len(names) == 0 {
		return
	}
	resps, err := s.c.adm.DeleteTopics(ctx, names...)
	if err != nil {
		for _, i := range idx {
			errs[i] = fmt.Errorf("kafka: delete topic %q: %w", cs[i].Name, s.c.explain(ctx, err))
		}
		return
	}
	for _, r := range resps {
		i, ok := pending[r.Topic]
		if !ok {
			continue
		}
		delete(pending, r.Topic)
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			errs[i] = fmt.Errorf("kafka: delete topic %q: %w", cs[i].Name, withMessage(r.Err, r.ErrMessage))
		}
	}
	for _, i := range pending {
		errs[i] = fmt.Errorf("kafka: delete topic %q: no answer from the broker", cs[i].Name)
	}
}
