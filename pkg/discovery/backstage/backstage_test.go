package backstage

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evctl/evctl/pkg/contracts/config"
	"github.com/evctl/evctl/pkg/contracts/consumer"
	"github.com/evctl/evctl/pkg/contracts/contract"
)

func parse(t *testing.T, file, src string) *contract.Event {
	t.Helper()
	ev, ds := contract.Parse(file, []byte(src))
	if ds.HasErrors() {
		t.Fatalf("%s: %v", file, ds)
	}
	return ev
}

func sample(t *testing.T) (*config.Project, []*contract.Event) {
	p := &config.Project{Teams: map[string]config.Team{
		"growth":      {GitHub: []string{"@acme/growth"}},
		"data_eng":    {},
		"Creators.EU": {GitHub: []string{"creators"}},
	}}
	return p, []*contract.Event{
		parse(t, "contracts/feed/video_played.yaml", `name: video_played
domain: feed
owner: {team: growth, pod: feed}
description: |
  A user started playback of a video.
  Second line.
stage: prod
schema: {fields: [{name: watch_ms, type: int64, number: 1}]}
`),
		parse(t, "contracts/user_posts/a_very_long_event_name_that_goes_on_and_on_and_on_and_on_x.yaml", `name: a_very_long_event_name_that_goes_on_and_on_and_on_and_on_x
domain: user_posts
owner: {team: data_eng, pod: core}
description: Long.
stage: staging
schema: {fields: [{name: x, type: string, number: 1}]}
`),
	}
}

func TestCatalogEntitiesAreValidBackstage(t *testing.T) {
	p, evs := sample(t)
	s, err := SettingsOf(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.System != "events" || s.Owner != "Creators.EU" {
		t.Fatalf("default settings %+v; want system events, owner the first team alphabetically", s)
	}
	crm := &consumer.Consumer{Name: "crm_nudges", Owner: consumer.Owner{Team: "growth"}, File: "consumers/crm_nudges.yaml",
		Description: "Reminds users.\nMore.", Events: []string{"feed/video_played", "user_posts/a_very_long_event_name_that_goes_on_and_on_and_on_and_on_x", "feed/gone"},
		Deliver: consumer.Deliver{Kafka: &consumer.Kafka{Topic: "crm"}}}
	files, err := Catalog(p, evs, s, func(ev *contract.Event) (string, error) {
		return "syntax = \"proto3\";\nmessage X {}\n", nil
	}, crm)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		b, err := Marshal(f.Entity)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), Header) {
			t.Errorf("%s lacks the header", f.Path)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		for _, e := range validate(doc) {
			t.Errorf("%s: %s\n%s", f.Path, e, b)
		}
		kinds[f.Entity.Kind]++
	}
	if kinds["API"] != 2 || kinds["Group"] != 3 || kinds["System"] != 1 || kinds["Location"] != 1 || kinds["Component"] != 1 {
		t.Fatalf("kinds %v", kinds)
	}
	// The consumer is a Component of its team that consumesApis the APIs of its events (the
	// ones the repository has), in the catalog's system; a prod event makes it production.
	apis := map[string]bool{}
	var comp *Entity
	for i, f := range files {
		switch f.Entity.Kind {
		case "API":
			apis["api:default/"+f.Entity.Metadata.Name] = true
		case "Component":
			comp = &files[i].Entity
			if f.Path != "components/crm_nudges.yaml" {
				t.Errorf("component path %s", f.Path)
			}
		}
	}
	cs := comp.Spec.(ComponentSpec)
	if cs.Owner != "group:default/growth" || cs.Lifecycle != "production" || cs.Type != "service" || cs.System != "events" ||
		len(cs.ConsumesAPIs) != 2 || !apis[cs.ConsumesAPIs[0]] || !apis[cs.ConsumesAPIs[1]] || comp.Metadata.Description != "Reminds users." {
		t.Fatalf("component %+v %+v (APIs %v)", comp.Metadata, cs, apis)
	}
	if files[0].Path != "catalog-info.yaml" || len(files[0].Entity.Spec.(LocationSpec).Targets) != len(files)-1 {
		t.Fatalf("the Location must come first and list every other file: %+v", files[0])
	}
	var api APISpec
	for _, f := range files {
		if f.Entity.Kind == "API" && f.Entity.Metadata.Name == "feed.video_played" {
			api = f.Entity.Spec.(APISpec)
			if f.Entity.Metadata.Description != "A user started playback of a video." {
				t.Errorf("description %q: want its first line", f.Entity.Metadata.Description)
			}
		}
	}
	if api.Lifecycle != "production" || api.Owner != "group:default/growth" || api.Type != "protobuf" || api.System != "events" {
		t.Fatalf("feed.video_played spec %+v", api)
	}
}

func TestValidatorRejectsBadEntities(t *testing.T) {
	// The reimplemented constraints must actually reject what Backstage rejects.
	for name, doc := range map[string]string{
		"name with slash":     "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a/b}\nspec: {type: team, children: []}\n",
		"name too long":       "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: " + strings.Repeat("a", 64) + "}\nspec: {type: team, children: []}\n",
		"namespace uppercase": "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a, namespace: Default}\nspec: {type: team, children: []}\n",
		"group no children":   "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: a}\nspec: {type: team}\n",
		"component no owner":  "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: service, lifecycle: production, consumesApis: [api:a]}\n",
		"component empty api": "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec: {type: service, lifecycle: production, owner: x, consumesApis: ['']}\n",
		"api no definition":   "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: a}\nspec: {type: protobuf, lifecycle: production, owner: x}\n",
		"tag underscore":      "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: a, tags: [a_b]}\nspec: {owner: x}\n",
		"extra top-level key": "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: a}\nspec: {owner: x}\nowner: y\n",
		"wrong apiVersion":    "apiVersion: backstage.io/v2\nkind: System\nmetadata: {name: a}\nspec: {owner: x}\n",
	} {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if len(validate(m)) == 0 {
			t.Errorf("%s: accepted\n%s", name, doc)
		}
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"feed.video_played":           "feed.video_played",
		"_x y/z_":                     "x-y-z",
		"a" + strings.Repeat("b", 70): "a" + strings.Repeat("b", 62),
	} {
		if got := EntityName(in); got != want || !validName(got) {
			t.Errorf("EntityName(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"user_posts": "user-posts", "Feed": "feed", "a__b-": "a-b"} {
		if got := Tag(in); got != want || !dnsLabel(got) {
			t.Errorf("Tag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSettings(t *testing.T) {
	p := &config.Project{Teams: map[string]config.Team{"b": {}, "a": {}},
		Extra: map[string]any{"catalog": map[string]any{"system": "video-events", "owner": "b"}}}
	s, err := SettingsOf(p)
	if err != nil || s.System != "video-events" || s.Owner != "b" {
		t.Fatalf("%+v %v", s, err)
	}
	p.Extra["catalog"] = map[string]any{"sytem": "x"}
	if _, err := SettingsOf(p); err == nil || !strings.Contains(err.Error(), "catalog.sytem") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}
