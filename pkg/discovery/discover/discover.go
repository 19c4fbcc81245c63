// Package discover answers "which events are there, who owns them, what do they hold": listing
// with filters and a ranked text search over names, descriptions and fields, from the loaded
// contracts alone (no network).
package discover

import (
	"sort"
	"strings"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

// Summary is one event in list and search results (a stable JSON shape).
type Summary struct {
	Event       string   `json:"event"`
	Domain      string   `json:"domain"`
	Name        string   `json:"name"`
	Team        string   `json:"team"`
	Pod         string   `json:"pod"`
	Stage       string   `json:"stage"`
	Major       int      `json:"major"`
	Description string   `json:"description"`
	Sinks       []string `json:"sinks"`
	Producers   []string `json:"producers"`
	Consumers   []string `json:"consumers"`
	File        string   `json:"file"`
	Score       int      `json:"score,omitempty"`
}

// Summarize describes one event.
func Summarize(ev *contract.Event) Summary {
	s := Summary{Event: ev.ID(), Domain: ev.Domain, Name: ev.Name, Team: ev.Owner.Team, Pod: ev.Owner.Pod,
		Stage: ev.Stage, Major: ev.Major, Description: strings.TrimSpace(ev.Description), File: ev.File,
		Sinks: []string{}, Producers: nonNil(ev.Access.Producers), Consumers: nonNil(ev.Access.Consumers)}
	if ev.Sinks.Kafka != nil {
		s.Sinks = append(s.Sinks, "kafka")
	}
	if ev.Sinks.BigQuery != nil {
		s.Sinks = append(s.Sinks, "bigquery")
	}
	if ev.Sinks.Delta != nil {
		s.Sinks = append(s.Sinks, "delta")
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Filter selects events for list; empty fields match everything.
type Filter struct {
	Owner, Pod, Stage, Domain string
}

// List returns the events matching f, sorted by ID.
func List(events []*contract.Event, f Filter) []Summary {
	out := []Summary{}
	for _, ev := range events {
		if (f.Owner != "" && ev.Owner.Team != f.Owner) || (f.Pod != "" && ev.Owner.Pod != f.Pod) ||
			(f.Stage != "" && ev.Stage != f.Stage) || (f.Domain != "" && ev.Domain != f.Domain) {
			continue
		}
		out = append(out, Summarize(ev))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Event < out[j].Event })
	return out
}

// Search ranks events by how well their name, description, fields and field descriptions match
// every word of text (case-insensitive). Name matches weigh most, then field names, then prose.
// Events that miss a word are left out.
func Search(events []*contract.Event, text string) []Summary {
	words := strings.Fields(strings.ToLower(text))
	out := []Summary{}
	if len(words) == 0 {
		return out
	}
	for _, ev := range events {
		total := 0
		for _, w := range words {
			s := score(ev, w)
			if s == 0 {
				total = 0
				break
			}
			total += s
		}
		if total > 0 {
			sum := Summarize(ev)
			sum.Score = total
			out = append(out, sum)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Event < out[j].Event
	})
	return out
}

func score(ev *contract.Event, w string) int {
	s := 0
	name := strings.ToLower(ev.Name)
	switch {
	case name == w:
		s += 100
	case strings.Contains(name, w):
		s += 50
	}
	if strings.Contains(strings.ToLower(ev.Domain), w) {
		s += 20
	}
	if strings.Contains(strings.ToLower(ev.Owner.Team), w) || strings.Contains(strings.ToLower(ev.Owner.Pod), w) {
		s += 15
	}
	if strings.Contains(strings.ToLower(ev.Description), w) {
		s += 10
	}
	var walk func(fs []contract.Field)
	walk = func(fs []contract.Field) {
		for i := range fs {
			f := &fs[i]
			if strings.Contains(strings.ToLower(f.Name), w) {
				s += 8
			}
			if strings.Contains(strings.ToLower(f.Description), w) {
				s += 3
			}
			walk(f.Fields)
		}
	}
	walk(ev.Schema.Fields)
	return s
}
