package codeowners

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/config"
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

func sample(t *testing.T) []*contract.Event {
	return []*contract.Event{
		parse(t, "contracts/feed/video_played.yaml", `name: video_played
domain: feed
owner: {team: growth, pod: feed}
description: A user started playback of a video.
stage: prod
schema: {fields: [{name: watch_ms, type: int64, number: 1, description: how long the user watched}]}
sinks: {kafka: {partitions: 3}}
`),
		parse(t, "contracts/posts/post_liked.yaml", `name: post_liked
domain: posts
owner: {team: creators, pod: posts}
description: A user liked a post, maybe a video post.
stage: staging
schema: {proto: {file: post_liked.proto, message: PostLiked}}
sinks: {bigquery: {partition_by: event_time}}
`),
	}
}

func TestCodeOwners(t *testing.T) {
	p := &config.Project{Teams: map[string]config.Team{
		"growth":   {GitHub: []string{"@acme/growth"}},
		"creators": {GitHub: []string{"@acme/creators", "@acme/lead"}},
	}}
	got := Render(p, sample(t), func(ev *contract.Event) string { return "gen/proto/" + ev.ID() + ".proto" })
	for _, line := range []string{
		"/contracts/feed/video_played.yaml @acme/growth",
		"/gen/proto/feed/video_played.proto @acme/growth",
		"/contracts/posts/post_liked.yaml @acme/creators @acme/lead",
		"/contracts/posts/post_liked.proto @acme/creators @acme/lead",
		"/gen/proto/posts/post_liked.proto @acme/creators @acme/lead",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("CODEOWNERS lacks %q:\n%s", line, got)
		}
	}
}
