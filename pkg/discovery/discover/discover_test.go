package discover

import (
	"strings"
	"testing"

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

func TestList(t *testing.T) {
	evs := sample(t)
	for _, tc := range []struct {
		f    Filter
		want []string
	}{
		{Filter{}, []string{"feed/video_played", "posts/post_liked"}},
		{Filter{Owner: "growth"}, []string{"feed/video_played"}},
		{Filter{Stage: "staging"}, []string{"posts/post_liked"}},
		{Filter{Pod: "posts", Domain: "posts"}, []string{"posts/post_liked"}},
		{Filter{Owner: "nobody"}, nil},
	} {
		var got []string
		for _, s := range List(evs, tc.f) {
			got = append(got, s.Event)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestSearchRanksNamesFirst(t *testing.T) {
	got := Search(sample(t), "video")
	if len(got) != 2 || got[0].Event != "feed/video_played" || got[0].Score <= got[1].Score {
		t.Fatalf("Search(video) = %+v; want video_played first, ranked above post_liked", got)
	}
	if got := Search(sample(t), "watched video"); len(got) != 1 || got[0].Event != "feed/video_played" {
		t.Fatalf("every word must match (field description + name): %+v", got)
	}
	if got := Search(sample(t), "nothing-like-this"); len(got) != 0 {
		t.Fatalf("want no results, got %+v", got)
	}
}
