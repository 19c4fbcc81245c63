package gateway

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestRecordLimitsReadInOneCall: the poll reads the limits of every topic in use with one call
// (one DescribeConfigs request up to limitsPerRequest topics), not one round trip per topic,
// and each event gets its own topic's limit.
func TestRecordLimitsReadInOneCall(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed, "feed/feed_scrolled"}})
	e.mustAccept(played, []byte(playedJSON("a")))
	e.mustAccept(completed, completedJSON())
	adm := e.admin()
	defer adm.Close()
	v := "30000"
	if _, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "max.message.bytes", Value: &v}}, e.topics[completed]); err != nil {
		t.Fatal(err)
	}
	var calls [][]string
	e.gw.Registry().refreshLimits(context.Background(), func(ctx context.Context, topics []string) (map[string]int64, error) {
		calls = append(calls, slices.Sorted(slices.Values(topics)))
		return topicLimits(ctx, e.gw.kafka.admin(), topics)
	})
	want := slices.Sorted(slices.Values([]string{e.topics[played], e.topics[completed]}))
	if len(calls) != 1 || !slices.Equal(calls[0], want) {
		t.Fatalf("limits asked as %v, want one call for %v (the unused event's topic left out)", calls, want)
	}
	s := e.gw.Registry().Current()
	if got := s.Events[completed].maxRecord.Load(); got != 30000 {
		t.Errorf("completed's limit %d, want its topic's 30000", got)
	}
	if got := s.Events[played].maxRecord.Load(); got != producerBatchMax {
		t.Errorf("played's limit %d, want the producer's %d", got, producerBatchMax)
	}
}

// TestRecordLimitsBetweenFullReadsOnlyNew: between the reads of every limit (limitsRefreshAll),
// a poll asks only for the limits of events loaded since, not again for every topic in use.
func TestRecordLimitsBetweenFullReadsOnlyNew(t *testing.T) {
	e := startEnv(t, envOpts{publish: []string{played, completed}})
	e.mustAccept(played, []byte(playedJSON("a")))
	var calls [][]string
	ask := func(ctx context.Context, topics []string) (map[string]int64, error) {
		calls = append(calls, slices.Sorted(slices.Values(topics)))
		return topicLimits(ctx, e.gw.kafka.admin(), topics)
	}
	reg := e.gw.Registry()
	reg.refreshLimits(context.Background(), ask)
	e.mustAccept(completed, completedJSON())
	reg.readLimits(context.Background(), ask, true)
	reg.readLimits(context.Background(), ask, true) // every limit known: nothing asked
	want := [][]string{{e.topics[played]}, {e.topics[completed]}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Fatalf("limits asked as %v, want %v", calls, want)
	}
	if got := reg.Current().Events[completed].maxRecord.Load(); got != producerBatchMax {
		t.Errorf("completed's limit %d, want %d", got, producerBatchMax)
	}
}
