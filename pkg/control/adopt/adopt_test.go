package adopt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/internal/synth"
	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/workspace"
	"github.com/evctl/evctl/pkg/control/adopt"
	"github.com/evctl/evctl/pkg/control/apply"
	"github.com/evctl/evctl/pkg/control/envplan"
	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
	"github.com/evctl/evctl/pkg/control/sink/kafka/kafkatest"
	"github.com/evctl/evctl/pkg/control/state"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type fixture struct {
	t    *testing.T
	kc   *kafkatest.Cluster
	dir  string
	opts envplan.Options
}

func newFixture(t *testing.T) *fixture {
	kc := kafkatest.Start(t)
	dir := t.TempDir()
	if _, err := synth.WriteContracts(dir, synth.Options{N: 2, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"EVCTL_KAFKA_USER": kafkatest.AdminUser, "EVCTL_KAFKA_PASSWORD": kc.AdminPassword}
	return &fixture{t: t, kc: kc, dir: dir, opts: envplan.Options{Getenv: func(k string) string { return vars[k] }}}
}

func (f *fixture) plan() *envplan.Run {
	f.t.Helper()
	ws, err := workspace.Open(filepath.Join(f.dir, config.FileName), f.dir)
	if err != nil {
		f.t.Fatal(err)
	}
	env := ws.Project.Environments["local"]
	env.Kafka.Brokers = f.kc.Addrs
	ws.Project.Environments["local"] = env
	run, err := envplan.Prepare(testCtx(f.t), ws, "local", f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(run.Close)
	return run
}

func find(t *testing.T, run *envplan.Run, kind, name string) sink.Change {
	t.Helper()
	for _, c := range run.Plan.Changes {
		if c.Kind == kind && c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s %s in the plan", kind, name)
	return sink.Change{}
}

// TestImportTopic: a topic made by hand under a contract's name, with another retention, is
// blocked by the plan; a dry-run import shows the diff and records nothing; the import records
// it, so the next plan updates it; after that apply the plan is a noop. A topic made by hand
// exactly as the contract wants it is a noop straight after its import. All against kfake.
func TestImportTopic(t *testing.T) {
	f := newFixture(t)
	run := f.plan()
	var topics []sink.Change
	for _, c := range run.Plan.Changes {
		if c.Kind == kafka.KindTopic {
			topics = append(topics, c)
		}
	}
	if len(topics) != 2 {
		t.Fatalf("planned %d topics, want 2", len(topics))
	}
	differs, same := topics[0], topics[1]
	spec := func(c sink.Change) kafka.TopicSpec { return c.Desired.Spec.(kafka.TopicSpec) }
	adm := run.Conn.Kafka.Admin()
	create := func(c sink.Change, configs map[string]*string) {
		resp, err := adm.CreateTopic(testCtx(t), spec(c).Partitions, -1, configs, c.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s by hand: %v", c.Name, err)
		}
	}
	asContract := func(c sink.Change) map[string]*string {
		out := map[string]*string{}
		for k, v := range spec(c).Configs {
			out[k] = &v
		}
		return out
	}
	byHand := "1234567"
	differsCfg := asContract(differs)
	differsCfg["retention.ms"] = &byHand
	create(differs, differsCfg)
	create(same, asContract(same))

	run = f.plan()
	for _, c := range []sink.Change{differs, same} {
		got := find(t, run, kafka.KindTopic, c.Name)
		if got.Action != sink.Blocked || !strings.Contains(got.Reason, "not created by this repository's evctl state") {
			t.Fatalf("%s before import: %s %q, want blocked as not ours", c.Name, got.Action, got.Reason)
		}
	}

	req := adopt.Request{Kind: kafka.KindTopic, Name: differs.Name, Event: differs.Event, DryRun: true, Who: "test"}
	res, err := adopt.Import(testCtx(t), run, req)
	if err != nil {
		t.Fatal(err)
	}
	wantRet := spec(differs).Configs["retention.ms"]
	if res.Recorded || res.Next != sink.Update || len(res.Diff) != 1 || res.Diff[0].Path != "configs.retention.ms" ||
		res.Diff[0].From != byHand || res.Diff[0].To != wantRet || !strings.HasPrefix(res.Hash, "live:") {
		t.Fatalf("dry run: %+v, want the retention diff %s -> %s, next update, nothing recorded", res, byHand, wantRet)
	}
	st, _, err := state.Read(testCtx(t), run.Conn.State, "local")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Resources[state.ResourceKey(kafka.KindTopic, differs.Name)]; ok {
		t.Fatal("dry run recorded the topic")
	}

	req.DryRun = false
	if res, err = adopt.Import(testCtx(t), run, req); err != nil || !res.Recorded {
		t.Fatalf("import: %+v, %v", res, err)
	}
	res, err = adopt.Import(testCtx(t), f.plan(), adopt.Request{Kind: kafka.KindTopic, Name: same.Name, Event: same.Event, Who: "test"})
	if err != nil || !res.Recorded || res.Next != sink.Noop || len(res.Diff) != 0 || res.Hash != same.Desired.Hash {
		t.Fatalf("import of a matching topic: %+v, %v", res, err)
	}

	run = f.plan()
	if c := find(t, run, kafka.KindTopic, differs.Name); c.Action != sink.Update {
		t.Fatalf("after import: %s %s %q, want update", c.Action, c.Name, c.Reason)
	}
	if c := find(t, run, kafka.KindTopic, same.Name); c.Action != sink.Noop {
		t.Fatalf("after import: %s %s %q, want noop", c.Action, c.Name, c.Reason)
	}
	if len(run.Plan.Drift) != 0 {
		t.Fatalf("drift after import: %+v", run.Plan.Drift)
	}
	rep, err := apply.Run(testCtx(t), run.Conn.Registry, run.Conn.State, run.Plan, apply.Options{Env: "local", Who: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Kind == kafka.KindTopic && r.Status != state.StatusOK {
			t.Fatalf("%s/%s: %s %s", r.Kind, r.Name, r.Status, r.Error)
		}
	}
	run = f.plan()
	for _, c := range []sink.Change{differs, same} {
		if got := find(t, run, kafka.KindTopic, c.Name); got.Action != sink.Noop {
			t.Fatalf("after apply: %s %s %+v, want noop", got.Action, c.Name, got.Diff)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(testCtx(t), differs.Name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(differs.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() != wantRet {
			t.Fatalf("live retention.ms %q after apply, want %q", c.MaybeValue(), wantRet)
		}
	}

	// Importing what is owned already changes nothing.
	res, err = adopt.Import(testCtx(t), run, adopt.Request{Kind: kafka.KindTopic, Name: differs.Name, Event: differs.Event, Who: "test"})
	if err != nil || !res.Already || res.Recorded {
		t.Fatalf("import of an owned topic: %+v, %v", res, err)
	}
}

// TestImportRefuses: an unknown kind, event or name, a resource of another event, and a
// resource that does not exist live are the caller's errors (adopt.Error) naming what is wrong.
func TestImportRefuses(t *testing.T) {
	f := newFixture(t)
	run := f.plan()
	var topic sink.Change
	var other string
	for _, c := range run.Plan.Changes {
		if c.Kind == kafka.KindTopic {
			if topic.Name == "" {
				topic = c
			} else {
				other = c.Event
			}
		}
	}
	cases := []struct {
		req  adopt.Request
		want string
	}{
		{adopt.Request{Kind: "kafka_topik", Name: topic.Name, Event: topic.Event}, `unknown kind "kafka_topik" (kinds: `},
		{adopt.Request{Kind: kafka.KindTopic, Name: topic.Name, Event: "feed/nope"}, `no event "feed/nope" in this repository`},
		{adopt.Request{Kind: kafka.KindTopic, Name: "local.x.y.v1", Event: topic.Event}, `wants no kafka_topic named "local.x.y.v1" in local (it wants: ` + topic.Name + `)`},
		{adopt.Request{Kind: kafka.KindTopic, Name: topic.Name, Event: other}, `wants no kafka_topic named "` + topic.Name + `"`},
		{adopt.Request{Kind: kafka.KindTopic, Name: topic.Name, Event: topic.Event}, "does not exist in local: nothing to adopt"},
	}
	for i, c := range cases {
		_, err := adopt.Import(testCtx(t), run, c.req)
		var ae *adopt.Error
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("case %s: %v, want an adopt.Error containing %q", strconv.Itoa(i), err, c.want)
		}
	}
	st, _, err := state.Read(testCtx(t), run.Conn.State, "local")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != 0 {
		t.Fatalf("refused imports recorded %d resources", len(st.Resources))
	}
}
