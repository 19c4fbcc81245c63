package count

import (
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/contracts/contract"
)

func TestSelect(t *testing.T) {
	evs := []*contract.Event{
		{Name: "post_liked", Domain: "posts", Stage: "prod", Counters: []contract.Counter{{Name: "post_likes"}, {Name: "post_unlikes"}}},
		{Name: "post_viewed", Domain: "posts", Stage: "staging", Counters: []contract.Counter{{Name: "post_views"}}},
		{Name: "post_shared", Domain: "posts", Stage: "prod"},
	}
	prodOnly := func(s string) bool { return s == "prod" }
	all := func(string) bool { return true }
	names := func(ecs []EventCounters) string {
		var out []string
		for _, ec := range ecs {
			for _, c := range ec.Counters {
				out = append(out, ec.Event+":"+c.Name)
			}
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		hosts            func(string) bool
		events, counters []string
		want, err        string
	}{
		{all, nil, nil, "posts/post_liked:post_likes,posts/post_liked:post_unlikes,posts/post_viewed:post_views", ""},
		{prodOnly, nil, nil, "posts/post_liked:post_likes,posts/post_liked:post_unlikes", ""},
		{all, []string{"posts/post_viewed"}, nil, "posts/post_viewed:post_views", ""},
		{all, nil, []string{"post_unlikes"}, "posts/post_liked:post_unlikes", ""},
		{all, nil, []string{"post_lieks"}, "", "counter post_lieks"},
		{prodOnly, nil, []string{"post_views"}, "", "counter post_views"}, // not hosted here
		{all, []string{"posts/nope"}, nil, "", "event posts/nope"},
	} {
		got, err := Select(evs, c.hosts, c.events, c.counters)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Select(%v, %v): error %v, want one naming %q", c.events, c.counters, err, c.err)
		case c.err == "" && (err != nil || names(got) != c.want):
			t.Errorf("Select(%v, %v) = %s, %v; want %s", c.events, c.counters, names(got), err, c.want)
		}
	}
}
