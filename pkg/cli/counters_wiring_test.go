package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/evctl/evctl/pkg/data/count"
	"github.com/evctl/evctl/pkg/discovery/describe"
)

// TestRenderCounterLagPerTopic: with a repartitioned counter, describe's text shows the count
// group's lag per topic beside the total.
func TestRenderCounterLagPerTopic(t *testing.T) {
	r := &describe.Report{Counters: []describe.Counter{{Name: "likes_by_author", Key: "author_id", Sum: "count"}},
		CounterLive: &describe.CounterLive{Group: "evctl.prod.count", Lag: 3, Totals: count.Totals{Counted: 10, KeyWrites: 2}, Reduction: 5,
			Topics: []describe.TopicLag{{Topic: "prod.feed.post_liked.v1", Lag: 0}, {Topic: "prod.counters.likes_by_author.repartition", Lag: 3}}}}
	var b bytes.Buffer
	renderCounters(&b, r)
	want := "group evctl.prod.count: lag 3 (prod.feed.post_liked.v1 0, prod.counters.likes_by_author.repartition 3); 10 counted"
	if !strings.Contains(b.String(), want) {
		t.Fatalf("describe text:\n%s\nwant a line with %q", b.String(), want)
	}
	r.CounterLive.Topics[1].Lag = -1
	b.Reset()
	renderCounters(&b, r)
	if !strings.Contains(b.String(), "prod.counters.likes_by_author.repartition no commits)") {
		t.Fatalf("describe text without commits on the repartition topic:\n%s", b.String())
	}
}
