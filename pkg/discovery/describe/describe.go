package describe

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/data/ingest"
	"github.com/evctl/evctl/pkg/discovery/discover"
)

// Report is everything describe knows about one event; its JSON form is a stable shape: every
// list is present (never null), live sections are null without an environment.
type Report struct {
	Event       string   `json:"event"`
	Domain      string   `json:"domain"`
	Name        string   `json:"name"`
	Team        string   `json:"team"`
	Pod         string   `json:"pod"`
	Stage       string   `json:"stage"`
	Major       int      `json:"major"`
	Description string   `json:"description"`
	File        string   `json:"file"`
	Message     string   `json:"message"`
	Contract    string   `json:"contract"` // the effective .proto
	Producers   []string `json:"producers"`
	Consumers   []string `json:"consumers"`
	// ConsumerDefinitions are the consumers/<name>.yaml that read the event (SPEC-dataplane 11).
	ConsumerDefinitions []discover.ConsumerSummary `json:"consumer_definitions"`
	Sinks               []Sink                     `json:"sinks"`
	Links               []Link                     `json:"links"`
	// Env is the environment the live facts come from; "" for repository facts only.
	Env string `json:"env"`
	// Hosted is whether Env provisions events of this stage (false without an environment).
	Hosted     bool        `json:"hosted"`
	Groups     []Group     `json:"consumer_groups"`
	Throughput *Throughput `json:"throughput"`
	// Ingestion is each sink's ingestion of the event: lag, last commit, rows, DLQ count.
	Ingestion []ingest.TableStatus `json:"ingestion"`
	Audit     []Audit              `json:"audit"`
	// Counters are the event's engagement counters; CounterLive the count workers' progress
	// (null without an environment or counters).
	Counters    []Counter    `json:"counters"`
	CounterLive *CounterLive `json:"counters_live"`
	// Errors are the live facts that could not be read, each with its reason.
	Errors []string `json:"errors"`
}

// Sink is one resource of the event: its kind, its name in the environment, and its status
// from state when an environment is given.
type Sink struct {
	Kind   string    `json:"kind"`
	Name   string    `json:"name"`
	Status string    `json:"status,omitempty"` // ok, failed, skipped, pending; "not applied"
	Error  string    `json:"error,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	Commit string    `json:"commit,omitempty"`
	// Facts are what the last apply recorded about the live resource (a table's id, location,
	// log version, schema hash).
	Facts map[string]string `json:"facts,omitempty"`
}

// Link is a resolved URL from evctl.yaml's links (or the event's own links).
type Link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Group is a consumer group with committed offsets on the event's topic.
type Group struct {
	Group      string         `json:"group"`
	State      string         `json:"state"`
	Members    int            `json:"members"`
	Lag        int64          `json:"lag"` // sum over partitions with a known lag
	Partitions []PartitionLag `json:"partitions"`
	Error      string         `json:"error,omitempty"`
}

// PartitionLag is a group's position on one partition.
type PartitionLag struct {
	// Topic is set where a group reads several topics (a consumer's group).
	Topic     string `json:"topic,omitempty"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1 when nothing is committed
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"` // -1 when unknown
	Error     string `json:"error,omitempty"`
}

// Throughput is the records appended to the topic over a sampling interval.
type Throughput struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	Records         int64   `json:"records"`
	PerSecond       float64 `json:"per_second"`
	EndOffset       int64   `json:"end_offset"` // sum of the partitions' end offsets at the end
}

// Audit is one apply that touched the event, reduced to its changes and results for it.
type Audit struct {
	ID      string        `json:"id"`
	Time    time.Time     `json:"time"`
	Who     string        `json:"who"`
	Commit  string        `json:"commit"`
	Changes []AuditChange `json:"changes"`
}

// AuditChange is one resource an apply changed, with the outcome.
type AuditChange struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Repo fills the repository facts of ev. contractSrc and message are the effective contract
// (empty when it cannot be built). env may be "" (sink names keep their {env} placeholder and
// links needing {env}, {topic} or {table} without a value are left out).
func Repo(p *config.Project, ev *contract.Event, env, contractSrc, message string) *Report {
	r := &Report{Event: ev.ID(), Domain: ev.Domain, Name: ev.Name, Team: ev.Owner.Team, Pod: ev.Owner.Pod,
		Stage: ev.Stage, Major: ev.Major, Description: strings.TrimSpace(ev.Description), File: ev.File,
		Message: message, Contract: contractSrc, Env: env,
		Producers: nonNil(ev.Access.Producers), Consumers: nonNil(ev.Access.Consumers), ConsumerDefinitions: []discover.ConsumerSummary{},
		Sinks: Sinks(p, ev, env), Groups: []Group{}, Ingestion: []ingest.TableStatus{}, Audit: []Audit{}, Errors: []string{}, Counters: Counters(ev)}
	if env != "" {
		if e, err := p.Env(env); err == nil {
			r.Hosted = e.Hosts(ev.Stage)
		}
	}
	r.Links = Links(p, ev, env)
	return r
}

// Sinks lists the resources the repository wants for ev, named for env (with "{env}" left in
// when env is ""), in apply order: each wired kind names its own (sink.Namer). State is not
// consulted here.
func Sinks(p *config.Project, ev *contract.Event, env string) []Sink {
	var out []Sink
	for _, d := range sink.SortDefs(envconn.Defs()) {
		n, ok := d.(sink.Namer)
		if !ok {
			continue
		}
		for _, name := range n.Names(p, env, ev) {
			out = append(out, Sink{Kind: d.Kind(), Name: name})
		}
	}
	return out
}

// Links resolves the project's links and the event's own (which win on the same name), sorted
// by name. Placeholders: {env} {domain} {event} {major} {topic} {table}. A link using a
// placeholder that has no value (no environment, no Kafka or BigQuery sink) is left out.
func Links(p *config.Project, ev *contract.Event, env string) []Link {
	vals := map[string]string{"{env}": env, "{domain}": ev.Domain, "{event}": ev.Name, "{major}": strconv.Itoa(ev.Major)}
	if env != "" && ev.Sinks.Kafka != nil {
		vals["{topic}"] = p.TopicName(env, ev)
	}
	if ev.Sinks.BigQuery != nil {
		if t := p.TableName(env, ev); env != "" || !strings.Contains(p.Naming.BigQueryTable, "{env}") {
			vals["{table}"] = t
		}
	}
	tmpls := map[string]string{}
	for k, v := range p.Links {
		tmpls[k] = v
	}
	for k, v := range ev.Links {
		tmpls[k] = v
	}
	out := []Link{}
	for name, t := range tmpls {
		if u, ok := expand(t, vals); ok {
			out = append(out, Link{Name: name, URL: u})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var placeholders = []string{"{env}", "{domain}", "{event}", "{major}", "{topic}", "{table}"}

func expand(t string, vals map[string]string) (string, bool) {
	for _, ph := range placeholders {
		if strings.Contains(t, ph) {
			if vals[ph] == "" {
				return "", false
			}
			t = strings.ReplaceAll(t, ph, vals[ph])
		}
	}
	return t, true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
