package apply

import (
	"reflect"
	"testing"

	"github.com/evctl/evctl/pkg/control/sink"
	"github.com/evctl/evctl/pkg/control/sink/bigquery"
	"github.com/evctl/evctl/pkg/control/sink/delta"
	"github.com/evctl/evctl/pkg/control/sink/descriptor"
	"github.com/evctl/evctl/pkg/control/sink/kafka"
)

// TestStages checks the waves an apply runs in: kinds that depend on nothing first (descriptors
// and team users together), then what depends only on them, then ACLs, which depend on topics.
// The waves come from each kind's DependsOn, not from a list in apply.
func TestStages(t *testing.T) {
	ch := func(kind, name string, deps ...string) sink.Change {
		return sink.Change{Kind: kind, Name: name, Desired: &sink.Desired{Kind: kind, Name: name, DependsOn: deps}}
	}
	changes := []sink.Change{
		ch("kafka_acl", "t", "descriptor/e", "kafka_topic/t", "kafka_user/u"),
		ch("kafka_topic", "t", "descriptor/e"),
		ch("descriptor", "e"),
		ch("kafka_user", "u"),
		ch("delta_table", "d", "descriptor/e"),
	}
	off := func(d sink.Def) sink.Sink { return sink.Disabled(d, "waves only") }
	reg := sink.NewRegistry(off(descriptor.Def{}), off(kafka.UserDef{}), off(kafka.TopicDef{}), off(kafka.ACLDef{}),
		off(bigquery.Def{}), off(delta.Def{}))
	var got [][]string
	for _, st := range stages(reg, changes) {
		var kinds []string
		for _, k := range st {
			kinds = append(kinds, k[0].Kind)
		}
		got = append(got, kinds)
	}
	want := [][]string{{"descriptor", "kafka_user"}, {"kafka_topic", "delta_table"}, {"kafka_acl"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
}
