package apply_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/evctl/evctl/pkg/contracts/lint"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envconn"
	"github.com/evctl/evctl/pkg/control/plan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

// testCtx bounds a test's I/O so a hung server fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// event is one contract of a test repository.
type event struct {
	Domain, Name, Stage, Retention string
	Partitions                     int
	Producers, Consumers           []string
	// Delta adds a delta_table sink (the environment then needs repo.deltaURL); Note adds a
	// third, nullable field (an evolution).
	Delta, Note bool
}

func (e event) ID() string    { return e.Domain + "/" + e.Name }
func (e event) Topic() string { return "local." + e.Domain + "." + e.Name + ".v1" }

func (e event) yaml() string {
	stage := e.Stage
	if stage == "" {
		stage = "staging"
	}
	var fields, sinks string
	if e.Note {
		fields = "\n    - {name: note, type: string, number: 3}"
	}
	if e.Delta {
		sinks = "\n  delta: {}"
	}
	return fmt.Sprintf(`name: %s
domain: %s
owner: {team: growth, pod: feed}
description: A test event.
stage: %s
major: 1
schema:
  fields:
    - {name: item_id, type: string, mode: required, number: 1}
    - {name: count, type: int64, number: 2}%s
sinks:
  kafka: {partitions: %d, retention: %s}%s
access: {producers: [%s], consumers: [%s]}
`, e.Name, e.Domain, stage, fields, e.Partitions, e.Retention, sinks, strings.Join(e.Producers, ", "), strings.Join(e.Consumers, ", "))
}

// defaultEvents are the small catalog most tests start from.
func defaultEvents() []event {
	return []event{
		{Domain: "feed", Name: "item_clicked", Partitions: 3, Retention: "1d", Producers: []string{"growth"}, Consumers: []string{"analytics"}},
		{Domain: "feed", Name: "item_viewed", Partitions: 2, Retention: "7d", Producers: []string{"growth"}, Consumers: []string{"analytics", "ml"}},
		{Domain: "posts", Name: "post_created", Partitions: 1, Retention: "3d", Producers: []string{"creators"}, Consumers: []string{"ml"}},
	}
}

// repo is a contracts repository in a temporary directory, with its local environment pointed
// at a real kfake cluster and real file:// (or gs://) stores.
type repo struct {
	t       testing.TB
	dir     string
	kc      *kafkatest.Cluster
	brokers []string
	descURL string
	state   string // state URL
	// deltaURL, when set, is the environment's delta.url (for events with Delta).
	deltaURL string
	events   []event
	vars     map[string]string
	// connectTimeout bounds reaching Kafka (short when a test points at a dead port).
	connectTimeout time.Duration
}

// newRepo writes a repository of evs whose local environment uses kc and file:// stores under
// the repository. The admin credentials are in the variables envconn reads.
func newRepo(t testing.TB, kc *kafkatest.Cluster, evs []event) *repo {
	t.Helper()
	r := &repo{t: t, dir: t.TempDir(), kc: kc, brokers: kc.Addrs, events: evs,
		descURL: "file://.evctl/descriptors", state: "file://.evctl/state",
		vars:           map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword},
		connectTimeout: 10 * time.Second}
	r.write()
	return r
}

func (r *repo) getenv(k string) string { return r.vars[k] }

// write (re)writes evctl.yaml and every contract; contracts no longer in r.events are removed.
func (r *repo) write() {
	r.t.Helper()
	cfg := fmt.Sprintf(`version: 1
naming:
  topic: "{env}.{domain}.{event}.v{major}"
  bigquery_table: "{domain}__{event}_v{major}"
  proto_package: "events.{domain}.v{major}"
platform_fields:
  - {name: event_id,   type: string,    mode: required, number: 1000}
  - {name: event_time, type: timestamp, mode: required, number: 1001}
teams:
  growth:    {pods: [feed], github: ["@acme/growth"]}
  creators:  {pods: [posts], github: ["@acme/creators"]}
  analytics: {pods: [core], github: ["@acme/analytics"]}
  ml:        {pods: [ranking], github: ["@acme/ml"]}
environments:
  local:
    stages: [staging, prod]
    kafka: {brokers: [%q], sasl: {mechanism: SCRAM-SHA-256, user_env: EVCTL_KAFKA_USER, password_env: EVCTL_KAFKA_PASSWORD}}
    descriptors: {url: %q}
    state: {url: %q}
    credentials_dir: .evctl/credentials
`, strings.Join(r.brokers, `", "`), r.descURL, r.state)
	if r.deltaURL != "" {
		cfg += fmt.Sprintf("    delta: {url: %q}\n", r.deltaURL)
	}
	must(r.t, os.WriteFile(filepath.Join(r.dir, "evctl.yaml"), []byte(cfg), 0o644))
	must(r.t, os.RemoveAll(filepath.Join(r.dir, "contracts")))
	for _, e := range r.events {
		p := filepath.Join(r.dir, "contracts", e.Domain, e.Name+".yaml")
		must(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(r.t, os.WriteFile(p, []byte(e.yaml()), 0o644))
	}
}

// plan compiles the repository, connects to the environment and builds the plan, the way
// `evctl plan` does. The connection is closed when the test ends.
func (r *repo) plan(ctx context.Context) (*plan.Plan, *envconn.Conn) {
	r.t.Helper()
	ws, err := workspace.Open(filepath.Join(r.dir, "evctl.yaml"), r.dir)
	must(r.t, err)
	rep := lint.Check(ctx, ws, lint.Options{SkipGenFresh: true})
	if len(rep.Diags) > 0 {
		r.t.Fatalf("lint: %v", rep.Diags)
	}
	target, err := sink.NewTarget(ws.Project, "local", ws.Events, rep.Compiled)
	must(r.t, err)
	conn, err := envconn.Open(ctx, ws.Project, "local", envconn.Options{Getenv: r.getenv, ConnectTimeout: r.connectTimeout})
	must(r.t, err)
	r.t.Cleanup(conn.Close)
	want, err := plan.Desire(conn.Registry, target)
	must(r.t, err)
	st, _, err := state.Read(ctx, conn.State, "local")
	must(r.t, err)
	p, err := plan.Build(ctx, conn.Registry, want, plan.Options{Env: "local", State: st, Target: target})
	must(r.t, err)
	return p, conn
}

// apply plans and runs the plan with opts (Env and Who filled in).
func (r *repo) apply(ctx context.Context, opts apply.Options) (*apply.Report, *plan.Plan) {
	r.t.Helper()
	p, conn := r.plan(ctx)
	opts.Env = "local"
	if opts.Who == "" {
		opts.Who = "test"
	}
	if opts.Commit == "" {
		opts.Commit = "c0ffee"
	}
	rep, err := apply.Run(ctx, conn.Registry, conn.State, p, opts)
	must(r.t, err)
	return rep, p
}

// tryApply is apply that returns Run's error instead of failing the test.
func (r *repo) tryApply(ctx context.Context, opts apply.Options) (*apply.Report, error) {
	r.t.Helper()
	p, conn := r.plan(ctx)
	opts.Env = "local"
	if opts.Who == "" {
		opts.Who = "test"
	}
	return apply.Run(ctx, conn.Registry, conn.State, p, opts)
}

// readState reads the environment's resources.json.
func (r *repo) readState(ctx context.Context) *state.Resources {
	r.t.Helper()
	_, conn := r.plan(ctx)
	st, _, err := state.Read(ctx, conn.State, "local")
	must(r.t, err)
	return st
}

// admin is a kadm client logged in as the superuser, for changes "by hand".
func admin(t testing.TB, kc *kafkatest.Cluster) *kadm.Client {
	t.Helper()
	c, err := kafka.Connect(testCtx(t), kafka.Config{Brokers: kc.Addrs,
		SASL: kafka.SASL{Mechanism: kafkatest.Mechanism, User: kafkatest.AdminUser, Password: kc.AdminPassword}})
	must(t, err)
	t.Cleanup(c.Close)
	return c.Admin()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// changes indexes a plan's changes by "kind/name".
func changes(p *plan.Plan) map[string]sink.Change {
	m := map[string]sink.Change{}
	for _, c := range p.Changes {
		m[c.ID()] = c
	}
	return m
}

// results indexes a report's results by "kind/name".
func results(rep *apply.Report) map[string]apply.Result {
	m := map[string]apply.Result{}
	for _, x := range rep.Results {
		m[x.Kind+"/"+x.Name] = x
	}
	return m
}

// notOK lists the results whose status is not ok, for failure messages.
func notOK(rep *apply.Report) []string {
	var out []string
	for _, x := range rep.Results {
		if x.Status != state.StatusOK {
			out = append(out, fmt.Sprintf("%s/%s %s %s: %s", x.Kind, x.Name, x.Action, x.Status, x.Error))
		}
	}
	sort.Strings(out)
	return out
}

// actionCounts counts a plan's changes by action.
func actionCounts(p *plan.Plan) map[sink.Action]int {
	m := map[sink.Action]int{}
	for _, c := range p.Changes {
		m[c.Action]++
	}
	return m
}

// wantResources is every "kind/name" a catalog of evs should end with.
func wantResources(evs []event) []string {
	set := map[string]bool{}
	for _, e := range evs {
		set["descriptor/"+e.ID()] = true
		set["kafka_topic/"+e.Topic()] = true
		set["kafka_acl/"+e.Topic()] = true
		set["kafka_dlq_topic/"+e.Topic()+".dlq"] = true
		for _, t := range append(append([]string(nil), e.Producers...), e.Consumers...) {
			set["kafka_user/"+t] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mustConn opens the environment of r (for direct reads of its stores).
func mustConn(t testing.TB, r *repo) *envconn.Conn {
	t.Helper()
	_, conn := r.plan(testCtx(t))
	return conn
}
