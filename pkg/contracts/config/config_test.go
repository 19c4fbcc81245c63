package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

func TestFindSearchesUpward(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, config.FileName), []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "contracts", "feed")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := config.Find("", deep)
	if err != nil || got != filepath.Join(root, config.FileName) {
		t.Errorf("Find from %s = %q, %v", deep, got, err)
	}
	if _, err := config.Find("", t.TempDir()); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Find without evctl.yaml: %v, want ErrNotFound", err)
	}
	if _, err := config.Find(filepath.Join(root, "nope.yaml"), deep); err == nil {
		t.Error("an explicit --config that does not exist must fail")
	}
}

func TestParseDefaultsAndNames(t *testing.T) {
	p, diags := config.Parse(config.FileName, []byte(`version: 1
naming: {topic: "{env}-{domain}-{event}-{major}"}
teams: {growth: {pods: [feed]}}
environments:
  prod: {stages: [prod], x-future_key: 1}
x-anything: allowed
`))
	if len(diags) != 0 {
		t.Fatalf("x- keys are allowed at the top and in environments: %v", diags)
	}
	ev := &contract.Event{Name: "video_played", Domain: "feed", Major: 2}
	for got, want := range map[string]string{
		p.TopicName("prod", ev):      "prod-feed-video_played-2",
		p.TableName("prod", ev):      "feed__video_played_v2",
		p.ProtoPackage(ev):           "events.feed.v2",
		p.DeltaTableName("prod", ev): "feed/video_played_v2",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	env, err := p.Env("prod")
	if err != nil || !env.Hosts("prod") || env.Hosts("staging") {
		t.Errorf("Env(prod) = %+v, %v", env, err)
	}
	if _, err := p.Env("qa"); err == nil {
		t.Error("Env of an unknown environment must fail, naming the known ones")
	}
}

func TestParseReportsPositions(t *testing.T) {
	_, diags := config.Parse(config.FileName, []byte("version: 1\nplatform_fields:\n  - {name: event_id, type: string, numbr: 1000}\nteams: [growth]\n"))
	got := map[string]bool{}
	for _, d := range diags {
		got[d.Pos.String()+" "+d.Rule] = true
	}
	for _, want := range []string{"evctl.yaml:3:36 YAML_UNKNOWN_KEY", "evctl.yaml:4:8 YAML_TYPE"} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, diags)
		}
	}
}
