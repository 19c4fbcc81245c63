package discover

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

// ConsumerSummary is one consumers/<name>.yaml in list results (a stable JSON shape).
type ConsumerSummary struct {
	Consumer    string            `json:"consumer"`
	Team        string            `json:"team"`
	Description string            `json:"description"`
	Events      []string          `json:"events"`
	Where       map[string]string `json:"where"`
	// Deliver is "http" or "kafka"; Target the variable holding the URL (url_env) or the topic.
	Deliver string `json:"deliver"`
	Target  string `json:"target"`
	File    string `json:"file"`
}

// SummarizeConsumer describes one consumer.
func SummarizeConsumer(c *consumer.Consumer) ConsumerSummary {
	s := ConsumerSummary{Consumer: c.Name, Team: c.Owner.Team, Description: strings.TrimSpace(c.Description),
		Events: nonNil(slices.Clone(c.Events)), Where: maps.Clone(c.Where), File: c.File}
	if s.Where == nil {
		s.Where = map[string]string{}
	}
	switch {
	case c.Deliver.HTTP != nil:
		s.Deliver, s.Target = "http", c.Deliver.HTTP.URLEnv
	case c.Deliver.Kafka != nil:
		s.Deliver, s.Target = "kafka", c.Deliver.Kafka.Topic
	}
	return s
}

// ListConsumers returns the consumers matching f, sorted by name. Owner matches the consumer's
// team; Pod, Stage and Domain describe events, so with any of them set a consumer matches when
// it reads at least one event that matches them.
func ListConsumers(consumers []*consumer.Consumer, events []*contract.Event, f Filter) []ConsumerSummary {
	evFilter := Filter{Pod: f.Pod, Stage: f.Stage, Domain: f.Domain}
	var match map[string]bool
	if evFilter != (Filter{}) {
		match = map[string]bool{}
		for _, s := range List(events, evFilter) {
			match[s.Event] = true
		}
	}
	out := []ConsumerSummary{}
	for _, c := range consumers {
		if f.Owner != "" && c.Owner.Team != f.Owner {
			continue
		}
		if match != nil && !slices.ContainsFunc(c.Events, func(id string) bool { return match[id] }) {
			continue
		}
		out = append(out, SummarizeConsumer(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Consumer < out[j].Consumer })
	return out
}

// ConsumersOf returns the consumers that read the event id, sorted by name.
func ConsumersOf(consumers []*consumer.Consumer, id string) []ConsumerSummary {
	out := []ConsumerSummary{}
	for _, c := range consumers {
		if slices.Contains(c.Events, id) {
			out = append(out, SummarizeConsumer(c))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Consumer < out[j].Consumer })
	return out
}
