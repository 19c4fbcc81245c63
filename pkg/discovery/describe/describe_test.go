package describe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
	"github.com/evctl/evctl/pkg/control/state"
	"github.com/evctl/evctl/pkg/storage/blob"
)

func project(t *testing.T) *config.Project {
	t.Helper()
	p, ds := config.Parse("evctl.yaml", []byte(`version: 1
teams: {growth: {pods: [feed]}}
links:
  dashboard: "https://grafana/d?topic={topic}&env={env}"
  table: "https://bq/{table}"
  runbook: "https://runbooks/{domain}/{event}/v{major}"
environments:
  local: {stages: [staging, prod], bigquery: {project: p, dataset: d}}
  prod: {stages: [prod]}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return p
}

func event(t *testing.T, sinks string) *contract.Event {
	t.Helper()
	ev, ds := contract.Parse("contracts/feed/video_played.yaml", []byte(`name: video_played
domain: feed
owner: {team: growth, pod: feed}
description: Played.
stage: staging
major: 2
schema: {fields: [{name: id, type: string, number: 1}]}
sinks: `+sinks+`
links: {runbook: "https://wiki/{event}"}
`))
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	return ev
}

func TestLinks(t *testing.T) {
	p := project(t)
	links := func(ev *contract.Event, env string) string {
		var b []string
		for _, l := range Links(p, ev, env) {
			b = append(b, l.Name+"="+l.URL)
		}
		return strings.Join(b, " ")
	}
	both := event(t, "{kafka: {partitions: 1}, bigquery: {partition_by: event_time}}")
	if got, want := links(both, "local"), "dashboard=https://grafana/d?topic=local.feed.video_played.v2&env=local runbook=https://wiki/video_played table=https://bq/feed__video_played_v2"; got != want {
		t.Errorf("with env:\n got %s\nwant %s", got, want)
	}
	// Without an environment a link needing {env} or {topic} has no value and is left out.
	if got, want := links(both, ""), "runbook=https://wiki/video_played table=https://bq/feed__video_played_v2"; got != want {
		t.Errorf("without env:\n got %s\nwant %s", got, want)
	}
	kafkaOnly := event(t, "{kafka: {partitions: 1}}")
	if got := links(kafkaOnly, "local"); strings.Contains(got, "table=") {
		t.Errorf("a {table} link without a bigquery sink: %s", got)
	}
}

func TestSinksNames(t *testing.T) {
	p := project(t)
	ev := event(t, "{kafka: {partitions: 1}, bigquery: {partition_by: event_time}}")
	var got []string
	for _, s := range Sinks(p, ev, "local") {
		got = append(got, s.Kind+":"+s.Name)
	}
	want := "descriptor:feed/video_played kafka_topic:local.feed.video_played.v2 kafka_acl:local.feed.video_played.v2 kafka_dlq_topic:local.feed.video_played.v2.dlq bigquery_table:p.d.feed__video_played_v2"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v\nwant %s", got, want)
	}
}

func TestAddLiveFromState(t *testing.T) {
	p := project(t)
	ev := event(t, "{kafka: {partitions: 1}}")
	ctx := context.Background()
	store, err := blob.Open(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	when := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for _, rec := range []state.Record{
		{Event: "feed/video_played", Kind: "descriptor", Name: "feed/video_played", Status: state.Status("ok"), Time: when, Commit: "abc"},
		{Event: "feed/video_played", Kind: "kafka_topic", Name: "local.feed.video_played.v2", Status: state.Status("failed"), Error: "boom", Time: when},
		{Event: "feed/video_played", Kind: "kafka_topic", Name: "local.feed.video_played.v1", Status: state.Status("ok"), Time: when},
		{Event: "feed/other", Kind: "kafka_topic", Name: "local.feed.other.v1", Status: state.Status("ok"), Time: when},
	} {
		if err := state.SetRecord(ctx, store, "local", rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, rec := range []state.AuditRecord{
		{Who: "a", Time: when, Changes: []state.AuditChange{{Event: "feed/other", Kind: "kafka_topic", Name: "x", Action: "create"}}},
		{Who: "b", Time: when.Add(time.Minute), Changes: []state.AuditChange{
			{Event: "feed/video_played", Kind: "kafka_topic", Name: "local.feed.video_played.v2", Action: "create"},
			{Event: "feed/other", Kind: "kafka_topic", Name: "x", Action: "update"}},
			Results: []state.AuditResult{{Event: "feed/video_played", Kind: "kafka_topic", Name: "local.feed.video_played.v2", Status: state.Status("failed"), Error: "boom"}}},
	} {
		if _, err := state.AppendAudit(ctx, store, "local", rec); err != nil {
			t.Fatal(err)
		}
	}
	r := Repo(p, ev, "local", "syntax = \"proto3\";", "events.feed.v2.VideoPlayed")
	if err := r.AddLive(ctx, Live{State: store, KafkaErr: errors.New("kafka: connect: refused")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range r.Sinks {
		got = append(got, s.Kind+" "+s.Name+" "+s.Status+" "+s.Error)
	}
	want := []string{
		"descriptor feed/video_played ok ",
		"kafka_topic local.feed.video_played.v2 failed boom",
		"kafka_acl local.feed.video_played.v2 not applied ",
		"kafka_dlq_topic local.feed.video_played.v2.dlq not applied ",
		"kafka_topic local.feed.video_played.v1 ok ", // still in state under its old name
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sinks:\n got %q\nwant %q", got, want)
	}
	if len(r.Audit) != 1 || r.Audit[0].Who != "b" || len(r.Audit[0].Changes) != 1 || r.Audit[0].Changes[0].Status != "failed" {
		t.Errorf("audit %+v: want b's apply with its one change to this event, failed", r.Audit)
	}
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "refused") || !r.Hosted {
		t.Errorf("errors %v hosted %v: want the kafka reason kept as a value", r.Errors, r.Hosted)
	}
	if r.Groups == nil || r.Throughput != nil {
		t.Errorf("groups %v throughput %v", r.Groups, r.Throughput)
	}
}
